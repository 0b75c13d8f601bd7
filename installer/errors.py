"""The two ways a run of the installer stops early."""

from __future__ import annotations


class InstallError(Exception):
    """Stops the run; `str()` says what to do."""


class Stopped(BaseException):
    """SIGTERM or SIGHUP: raised in the main thread so that temporary files are removed on the way out
    (the default action kills the process where it stands)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum
