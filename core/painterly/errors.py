"""The one error hierarchy of Painterly.

Every message is meant to be shown to a user as it is: it says what went wrong
and what to do about it.
"""

from __future__ import annotations


class PainterlyError(Exception):
    """Base class: a problem the user can act on (shown without a traceback)."""


class BadImageError(PainterlyError):
    """The image (file or array) cannot be used: corrupt, empty, too large, NaN…"""


class UnknownStyleError(PainterlyError):
    """The style name is neither a preset nor a readable image."""


class ModelNotInstalledError(PainterlyError):
    """A model is needed that is not installed and may not be fetched now."""


class ModelDownloadError(PainterlyError):
    """Fetching or verifying a model failed (network, mirror, checksum)."""


class ModelFormatError(PainterlyError):
    """An upstream model file does not have the layout its converter expects."""


class CancelledError(PainterlyError):
    """The user cancelled; nothing was written."""


class OutOfMemoryError(PainterlyError):
    """Even the smallest tile did not fit on any device."""


class ProtocolError(PainterlyError):
    """A malformed or unexpected message between the editor and the worker."""
