"""How a run of the installer stops early: `InstallError`. (SIGTERM and SIGHUP raise
`painterly_common.files.Terminated`, under `terminate_cleanly` in `cli.main`.)"""

from __future__ import annotations


class InstallError(Exception):
    """Stops the run; `str()` says what to do."""
