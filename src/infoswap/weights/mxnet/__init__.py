"""Weights converted from MXNet checkpoints (`*-0000.params`)."""
