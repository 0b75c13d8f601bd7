"""Painterly: CNN style transfer as a library, a command-line tool and editor plug-ins."""

from .engine import CancelToken, Stylizer
from .errors import PainterlyError

__version__ = "0.1.0"
__all__ = ["CancelToken", "PainterlyError", "Stylizer", "__version__"]
