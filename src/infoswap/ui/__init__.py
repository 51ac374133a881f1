"""`infoswap ui`: the gradio web app over the same Swapper API as the CLI (`app`, `backend`, `limits`)."""
