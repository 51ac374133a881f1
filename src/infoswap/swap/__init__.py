"""The user-facing pipeline around the model: provenance (watermark + metadata) and streamed video I/O."""
