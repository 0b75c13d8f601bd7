"""The engine's errors: the one hierarchy of `painterly_common.errors`, under the engine's name."""

from painterly_common.errors import (
    BadImageError,
    CancelledError,
    ModelDownloadError,
    ModelFormatError,
    ModelNotInstalledError,
    OutOfMemoryError,
    PainterlyError,
    UnknownStyleError,
)

__all__ = [
    "BadImageError",
    "CancelledError",
    "ModelDownloadError",
    "ModelFormatError",
    "ModelNotInstalledError",
    "OutOfMemoryError",
    "PainterlyError",
    "UnknownStyleError",
]
