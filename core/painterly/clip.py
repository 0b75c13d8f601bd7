"""What the frames of one shot share: the norms' statistics, and Magenta's vector of the photo.

A still is normalised with its own statistics, exactly (`tiling.py`). In a clip each frame's own
statistics differ a little from the last (content enters and leaves the frame, noise, exposure),
and every norm of the network turns that into a change of tone over the whole frame: the global
flicker of per-frame style transfer. So each norm of a frame uses the statistics of the shot so
far instead: those of the frames before, as one population (means and variances combined by the
law of total variance), weighted towards the recent ones by `MEMORY` per frame, so that a slow
change of the scene is followed within about a second.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from .models.instance_norm import NormStats

MEMORY = 0.9  # the previous frames' weight in a frame's statistics: 10 frames' worth of history


class ClipStatistics:
    """`TiledRun.adjust_stats` for the frames of a shot: measured statistics → the shot's.

    Calls for one frame read only what earlier frames committed (`frame_done`), so a frame run
    again (the engine retries with smaller tiles when memory runs out) gets the same statistics."""

    def __init__(self, memory: float = MEMORY) -> None:
        self.memory = memory
        self._before: dict[int, NormStats] = {}
        self._now: dict[int, NormStats] = {}

    def __call__(self, index: int, measured: NormStats) -> NormStats:
        before = self._before.get(index)
        if before is None or before[0].shape != measured[0].shape:
            used = measured
        else:
            r = self.memory
            (m0, v0), (m1, v1) = before, measured
            mean = r * m0 + (1 - r) * m1
            used = (mean, r * v0 + (1 - r) * v1 + r * (1 - r) * (m0 - m1) ** 2)
        self._now[index] = used
        return used

    def frame_done(self) -> None:
        self._before.update(self._now)
        self._now = {}

    def reset(self) -> None:
        self._before, self._now = {}, {}


@dataclass
class Clip:
    """The state `Stylizer.stylize` keeps between the frames of a sequence (`sequence.py`)."""

    statistics: ClipStatistics = field(default_factory=ClipStatistics)
    #: Magenta below full strength mixes the style with the photo's own vector: the shot's first frame's
    own_vector: torch.Tensor | None = None

    def frame_done(self) -> None:
        self.statistics.frame_done()

    def new_shot(self) -> None:
        self.statistics.reset()
        self.own_vector = None
