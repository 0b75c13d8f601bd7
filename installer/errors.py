"""How a run of the installer stops early: `InstallError` (`IndexUnreachable`, one that step 1 may catch).
(SIGTERM and SIGHUP raise `painterly_common.files.Terminated`, under `terminate_cleanly` in `cli.main`.)"""

from __future__ import annotations


class InstallError(Exception):
    """Stops the run; `str()` says what to do."""


class IndexUnreachable(InstallError):
    """pip could not fetch a wheel index's pages (`run.index_failure`)."""

    def __init__(self, index: str, reason: str) -> None:
        super().__init__(f"pip could not reach the wheel index {index} ({reason})")
        self.index, self.reason = index, reason
