class TCError(Exception):
    """A user-facing error: the CLI prints `error: <message>` and exits with status 2."""
