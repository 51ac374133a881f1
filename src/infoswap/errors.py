"""The one exception type a user ever sees: the CLI prints its message on one line and exits non-zero."""


class InfoswapError(Exception):
    """A problem with the user's input or environment, worded for the user (never a traceback)."""

    exit_code = 2
