"""`python -m infoswap …` (and `torchrun … -m infoswap train …`): the same CLI as the `infoswap` script."""

from infoswap.cli import main

if __name__ == "__main__":
    main()
