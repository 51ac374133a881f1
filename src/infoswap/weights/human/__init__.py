"""Maps networks of the human library's model package (tfjs graph models) onto their PyTorch ports."""
