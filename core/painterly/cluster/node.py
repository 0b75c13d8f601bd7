"""What runs on a cluster's nodes. Ray keeps its worker processes between tasks, so each keeps one
`Stylizer`: the models are installed (from the catalog or the node's mirror, verified as
everywhere) and loaded by a process's first task, and reused by the rest.

Nothing here touches a node's files but its models: inputs come in as bytes, results go back as
bytes or frames, and the caller writes them, so a cluster needs no shared file system.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import __version__
from ..errors import PainterlyError

if TYPE_CHECKING:
    from ..engine import Stylizer


@dataclass(frozen=True)
class NodeSettings:
    """The caller's engine settings, the same on every node."""

    version: str = __version__
    threads: int = 1  # the CPUs Ray gives each task
    device: str | None = None
    precision: str | None = None
    tile: int | None = None
    allow_download: bool = True


@dataclass
class Done:
    """One task's answer: its result, or the one-line reason it has none."""

    result: Any = None  # an image's encoded file (bytes), or a chunk's frames (list of arrays)
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    node: str = ""  # the Ray node that made it (its id)


_kept: tuple[NodeSettings, Stylizer] | None = None


def stylizer(settings: NodeSettings) -> Stylizer:
    """This process's Stylizer for `settings` (made once)."""
    global _kept
    if settings.version != __version__:
        raise PainterlyError(
            f"{socket.gethostname()} has painterly {__version__}, the command {settings.version}: "
            "install the same version on every node of the cluster"
        )
    if _kept is None or _kept[0] != settings:
        import torch

        from ..engine import Stylizer

        torch.set_num_threads(settings.threads)
        _kept = (
            settings,
            Stylizer(
                device=settings.device,
                precision=settings.precision,
                tile=settings.tile,
                allow_download=settings.allow_download,
            ),
        )
    return _kept[1]


def stylize_image(data: bytes, name: str, extension: str, settings: NodeSettings, options: dict) -> Done:
    """An image file's bytes → its result encoded as `extension` (".png", …)."""
    from ..imageio import encode_image, load_image

    try:
        image = load_image(data, name)
        result = stylizer(settings).stylize(image.pixels, **options)
        encoded = encode_image(result, extension, image.icc_profile)
    except PainterlyError as exc:
        return Done(error=str(exc))
    return Done(encoded, None, image.warnings)


def stylize_chunk(frames: list[np.ndarray], stability: float, settings: NodeSettings, options: dict) -> Done:
    """Consecutive frames of a clip → their results, as `Stylizer.stylize_sequence` makes them."""
    from ..sequence import Sequence

    try:
        st, sequence = stylizer(settings), Sequence(stability)
        results = [sequence.stylize(st, frame, **options) for frame in frames]
    except PainterlyError as exc:
        return Done(error=str(exc))
    return Done(results, None)
