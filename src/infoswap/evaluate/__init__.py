"""Evaluation of swaps: the independent recogniser, pose/expression and identity metrics, reports."""
