class TCError(Exception):
    """A user-facing error: the CLI prints `error: <message>` and exits with status 2."""


class Terminated(BaseException):
    """SIGTERM arrived (raised by the CLI's handler). A BaseException, as KeyboardInterrupt is for
    SIGINT, so that it passes every `except Exception` and atomic_dir removes its temp folder."""
