"""The one error hierarchy of Painterly, each error with the machine `code` the protocol sends.

Every message is meant to be shown to a user as it is: it says what went wrong
and what to do about it. The worker answers an engine error with `error.code`
(editors may branch on it, e.g. no dialog for "cancelled"); the message is
always the thing to show. Standard library only, so the editor side can name
the same codes (`painterly_common.protocol` takes them from here).
"""

from __future__ import annotations


class PainterlyError(Exception):
    """Base class: a problem the user can act on (shown without a traceback)."""

    code = "engine"


class BadImageError(PainterlyError):
    """The image (file or array) cannot be used: corrupt, empty, too large, NaN…"""

    code = "bad_image"


class UnknownStyleError(PainterlyError):
    """The style name is neither a preset nor a readable image."""

    code = "unknown_style"


class ModelNotInstalledError(PainterlyError):
    """A model is needed that is not installed and may not be fetched now."""

    code = "model_not_installed"


class ModelDownloadError(PainterlyError):
    """Fetching or verifying a model failed (network, mirror, checksum)."""

    code = "model_download"


class ModelFormatError(PainterlyError):
    """An upstream model file does not have the layout its converter expects (so it was not installed)."""


class CancelledError(PainterlyError):
    """The user cancelled; nothing was written."""

    code = "cancelled"


class OutOfMemoryError(PainterlyError):
    """Even the smallest tile did not fit on any device."""

    code = "out_of_memory"
