"""Maps each face-api (tfjs) network onto the names and layouts of its PyTorch port."""
