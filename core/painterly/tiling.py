"""Large images in bounded memory, with the same result as one whole-image pass.

Instance norm needs the statistics of each layer over the *whole* image; tiles
normalised with their own statistics come out in different tones (2.7 %
relative error measured here), and statistics from a downscaled copy are far
off (about 20 dB PSNR: the network is not scale invariant). So the network is
run layer group by layer group, and every group only starts once the
statistics of the norms it contains are known exactly:

* the full-resolution groups (the first and the last convolutions) run in
  tiles straight from the image to the next stored map, or to the output;
* everything at half and quarter resolution (where a feature map costs 16 or
  8 values per image pixel) is kept as stored maps and run in tiles too;
* every tile reads a halo at least as wide as the group's receptive field, so
  its core is exactly what the whole-image pass computes there. Overlaps
  therefore agree to rounding and need no feathering: there are no seams.

A full-resolution map (conv1's, up2's) is stored as well while it fits in
`TiledRun.full_map_bytes` (256 MB: 2 MP of TransformerNet's 32 channels in
float32). Above that its group is computed twice, once for its norm's statistics
and again at the head of the next group, which costs about 17 % of
TransformerNet's work (40 % of the 26-style network's): that is the price of
exact tiles in bounded memory.
Which layers run as one group, which maps are stored and which norms are
measured is derived from the network's `stages` (`schedule`, below); a norm
after the last convolution (Magenta's) needs the whole output, and is applied
after the last tile (`finalize`).
"""

from __future__ import annotations

import copy
import logging
import math
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .errors import CancelledError
from .models.instance_norm import InstanceNorm, NormStats
from .models.stages import StagedNet, bind
from .models.transformer_net import ConvLayer

log = logging.getLogger("painterly")
Op = Callable[..., torch.Tensor]
Progress = Callable[[float, str], None]
#: (norm index, the statistics measured on this image) -> the statistics to use
StatsAdjust = Callable[[int, NormStats], NormStats]


def relu(x: torch.Tensor) -> torch.Tensor:
    return F.relu(x, inplace=True)


def apply_ops(ops: Sequence[Op], x: torch.Tensor, stats: list[NormStats]) -> torch.Tensor:
    for op in ops:
        x = op(x, stats) if isinstance(op, InstanceNorm) else op(x)
    return x


def fold_norms(ops: Sequence[Op], stats: list[NormStats]) -> list[Op]:
    """With its statistics known, a norm right after a convolution is just a per-channel
    affine map: fold it into the convolution's weights (one pass less over the biggest
    activations)."""
    out: list[Op] = []
    for op in ops:
        if isinstance(op, InstanceNorm) and out and isinstance(out[-1], ConvLayer):
            scale, shift = op.affine(*stats[op.index])
            conv = copy.deepcopy(out[-1])
            with torch.no_grad():
                w = conv.conv.weight
                w.copy_((w.float() * scale.view(-1, 1, 1, 1).to(w.device)).to(w.dtype))
                b = conv.conv.bias
                assert b is not None  # a ConvLayer's convolution has a bias
                b.copy_((b.float() * scale.view(-1).to(b.device) + shift.view(-1).to(b.device)).to(b.dtype))
            out[-1] = conv
            continue
        out.append(op)
    return out


@dataclass(frozen=True)
class Geometry:
    down: int  # product of strides
    up: int  # product of upsampling factors
    radius: int  # receptive-field radius, in input pixels, rounded up to a multiple of `down`


def geometry(ops: Sequence[Op]) -> Geometry:
    down = up = 1
    radius = 0  # in output pixels, walking backwards
    for op in reversed(ops):
        if isinstance(op, ConvLayer):
            radius = radius * op.stride + op.kernel // 2
            if op.upsample > 1:
                radius = -(-radius // op.upsample) + 1
            down *= op.stride
            up *= op.upsample
    return Geometry(down, up, -(-radius // down) * down)


def conv_cost(ops: Sequence[Op]) -> float:
    """Multiply-adds per input pixel, to weight progress by real work."""
    cost, scale = 0.0, 1.0
    for op in ops:
        if isinstance(op, ConvLayer):
            scale *= op.upsample**2
            w = op.conv.weight
            cost += scale * w.shape[0] * w[0].numel() / op.stride**2
            scale /= op.stride**2
    return cost


class Source:
    """Where a group reads its tiles: the input image or a stored map."""

    def __init__(self, read: Callable[[int, int, int, int], torch.Tensor], height: int, width: int):
        self.read, self.height, self.width = read, height, width


def image_source(image: np.ndarray, scale: float, device: torch.device, dtype: torch.dtype) -> Source:
    """`image`: HxWx3 float32 in 0..1 (already padded to the network's size multiple)."""

    def read(y0: int, y1: int, x0: int, x1: int) -> torch.Tensor:
        tile = torch.from_numpy(np.ascontiguousarray(image[y0:y1, x0:x1]))
        tile = tile.to(device).permute(2, 0, 1).unsqueeze(0)
        return (tile * scale).to(dtype)

    return Source(read, image.shape[0], image.shape[1])


def map_source(feature_map: torch.Tensor) -> Source:
    return Source(lambda y0, y1, x0, x1: feature_map[:, :, y0:y1, x0:x1], feature_map.shape[2], feature_map.shape[3])


class RunningStats:
    """Per-channel mean and variance accumulated over tiles, exactly enough for norms.

    Sums of (x - K) and (x - K)² around a per-channel shift K (the first rows' mean) avoid the
    cancellation of E[x²] - E[x]². They are taken on the tile's core as it is (a strided view:
    no copy) in bands of rows of about 64 K values per channel, which stay in cache; each band's
    float32 sums go into float64 totals. That made this 2.4× faster than reshaping the core to
    [C, N] (a copy) first, and 4× faster than a float32 `var_mean` (a 32-channel 320-pixel core:
    2.3 ms against 5.6 and 10 ms): the 26-style network, whose norms are most of its maps, spent
    a fifth of its time here."""

    BAND = 1 << 16  # values per channel per step

    def __init__(self) -> None:
        self.count = 0
        self.shift: torch.Tensor | None = None
        self.s1: torch.Tensor | None = None
        self.s2: torch.Tensor | None = None

    def add(self, x: torch.Tensor) -> None:
        rows = max(1, self.BAND // max(1, x.shape[3]))
        if self.shift is None:
            self.shift = x[:, :, :rows].float().mean(dim=(0, 2, 3), keepdim=True)
            self.s1 = torch.zeros(x.shape[1], dtype=torch.float64, device=x.device)
            self.s2 = torch.zeros_like(self.s1)
        assert self.s1 is not None and self.s2 is not None  # set with `shift`, by the first call
        for y in range(0, x.shape[2], rows):
            c = x[:, :, y : y + rows].float() - self.shift
            self.s1 += c.sum(dim=(0, 2, 3)).double()
            self.s2 += (c * c).sum(dim=(0, 2, 3)).double()
        self.count += x.shape[0] * x.shape[2] * x.shape[3]

    def result(self) -> NormStats:
        assert self.shift is not None and self.s1 is not None and self.s2 is not None, "no values added"
        mean = self.s1 / self.count
        var = (self.s2 / self.count - mean**2).clamp_min(0)
        shape = (1, -1, 1, 1)
        return (self.shift.view(-1).double() + mean).float().view(shape), var.float().view(shape)


def allocate_map(shape: tuple[int, ...], dtype: torch.dtype, device: torch.device, spill_bytes: int) -> torch.Tensor:
    """A stored feature map; above `spill_bytes` on the CPU it lives in a temporary
    file mapped into memory, so the OS can page it out instead of running out.

    The file's blocks are reserved up front (posix_fallocate): a sparse file on a
    temporary folder that fills up mid-run would kill the process with SIGBUS at
    the first write into a page the disk cannot hold. When they cannot be reserved,
    the map is kept in memory instead, and if that does not fit either the usual
    out-of-memory path (smaller tiles, then a clear message) takes over."""
    numel = math.prod(shape)
    nbytes = numel * torch.empty((), dtype=dtype).element_size()
    if device.type != "cpu" or nbytes <= spill_bytes:
        return torch.empty(shape, dtype=dtype, device=device)
    try:
        fd, path = tempfile.mkstemp(prefix="painterly-map-", suffix=".bin")
    except OSError as exc:
        log.warning("no temporary file for a %.0f MB feature map (%s): keeping it in memory", nbytes / 1e6, exc)
        return torch.empty(shape, dtype=dtype, device=device)
    try:
        if hasattr(os, "posix_fallocate"):
            os.posix_fallocate(fd, 0, nbytes)
        else:  # pragma: no cover - macOS and Windows have no posix_fallocate
            os.ftruncate(fd, nbytes)
        return torch.from_file(path, shared=True, size=numel, dtype=dtype).view(shape)
    except OSError as exc:
        log.warning(
            "the temporary folder cannot hold a %.0f MB feature map (%s): keeping it in memory", nbytes / 1e6, exc
        )
        return torch.empty(shape, dtype=dtype, device=device)
    finally:
        os.close(fd)
        try:
            os.unlink(path)  # the mapping keeps the data alive on POSIX
        except OSError:
            pass


# -- the schedule: the network's stages as tiled passes -----------------------------


@dataclass(frozen=True)
class Pass:
    """One layer group run tile by tile over the current source (the image, or the last
    stored map), which has 1/`scale` of the image's resolution."""

    kind: str  # "stats": only the statistics of `norm`; "store": the next stored map (and them); "output"
    ops: tuple[Op, ...]
    scale: int
    stage: str  # what progress reports
    norm: InstanceNorm | None = None


@dataclass(frozen=True)
class InPlace:
    """A band-by-band update, no tiles. "block input": the stored map gets its pending norm
    and activation and is kept as a residual block's input; "residual": the block input +=
    norm(the stored map), then the activation; "finalize": norm and activation on the output,
    with the statistics of the whole output."""

    kind: str
    norm: InstanceNorm | None
    act: str


TILE_ACTS: dict[str, Op | None] = {"relu": relu, "none": None, "sigmoid": torch.sigmoid}


def schedule(net: StagedNet, precise_output: bool = False, store_full: bool = False) -> list[Pass | InPlace]:
    """The tiled run of a network, derived from its `stages` (see `models.stages`).

    Maps at half and quarter resolution are stored. One at full resolution (32 values per
    pixel in `TransformerNet`) is stored too when `store_full` (the caller's memory budget
    allows it); else its stage runs once for its norm's statistics and again, with the norm
    folded in, at the head of the next group. Storing it was 14 % faster for the 26-style
    network at 1 MP (whose first convolution is 40 % of its work) and 4–6 % for candy.
    A residual block's input is a stored map whose pending norm and ReLU are applied in
    place; the block's sum is added into it in place. The last stage writes the output; a
    norm there needs the whole output, so it and its activation come after the last tile."""
    bound = bind(net)
    blocks = sum(s.block == "start" for s, _, _ in bound)
    steps: list[Pass | InPlace] = []
    pending: list[Op] = []  # still to run on the current source before the next convolution
    pending_stage: tuple[InstanceNorm | None, str] = (None, "none")  # what `pending` is, on a stored map
    scale, block, label = 1, 0, "encoding"
    for k, (stage, conv, norm) in enumerate(bound):
        after: list[Op] = [op for op in (norm, TILE_ACTS[stage.act]) if op is not None]
        if stage.block == "start":
            if any(isinstance(op, ConvLayer) for op in pending):
                raise ValueError(f"{stage.conv}: a residual block must start on a stored map")
            steps.append(InPlace("block input", *pending_stage))
            pending, pending_stage = [], (None, "none")
            block += 1
            label = f"residual block {block}/{blocks}"
        if k == len(bound) - 1:
            last: Op = conv.precise_copy() if precise_output else conv
            if norm is None:
                steps.append(Pass("output", (*pending, last, *after), scale, "decoding"))
            else:
                steps += [Pass("output", (*pending, last), scale, "decoding"), InPlace("finalize", norm, stage.act)]
            break
        ops: tuple[Op, ...] = (*pending, conv)
        out_scale = scale * conv.stride // conv.upsample
        if out_scale == 1 and not (store_full and norm is not None):
            if norm is not None:
                steps.append(Pass("stats", ops, scale, "statistics", norm))
            pending = [*ops, *after]
            continue
        steps.append(Pass("store", ops, scale, label, norm))
        scale = out_scale
        if stage.block == "end":
            steps.append(InPlace("residual", norm, stage.act))
            pending, pending_stage = [], (None, "none")
            if block == blocks:
                label = "decoding"
        else:
            pending, pending_stage = after, (norm, stage.act)
    return steps


def full_resolution_channels(net: StagedNet) -> int:
    """The widest map at full resolution that has a norm after it (0: none): what `schedule`
    stores with `store_full`."""
    widest, scale = 0, 1
    bound = bind(net)
    for k, (_, conv, norm) in enumerate(bound):
        scale = scale * conv.stride // conv.upsample
        if scale == 1 and norm is not None and k < len(bound) - 1:
            widest = max(widest, conv.conv.out_channels)
    return widest


def _act_(x: torch.Tensor, act: str) -> torch.Tensor:
    """The activation, in place."""
    return x.relu_() if act == "relu" else x.sigmoid_() if act == "sigmoid" else x


def _affine_act(
    norm: InstanceNorm | None, stats: list[NormStats], act: str, dtype: torch.dtype
) -> Callable[[torch.Tensor, int], torch.Tensor]:
    if norm is None:
        return lambda band, _y: _act_(band, act)
    scale, shift = (t.to(dtype) for t in norm.affine(*stats[norm.index]))
    return lambda band, _y: _act_(band.mul_(scale).add_(shift), act)


def _residual_act(
    u: torch.Tensor, a: torch.Tensor, b: torch.Tensor, act: str
) -> Callable[[torch.Tensor, int], torch.Tensor]:
    """band += u·a + b (u's rows from the band's first row on), then the activation; in place."""
    return lambda band, y: _act_(band.addcmul_(u[:, :, y : y + band.shape[2]], a).add_(b), act)


def finalize(
    out: np.ndarray, norm: InstanceNorm, act: str, rows: int = 256, adjust: StatsAdjust | None = None
) -> np.ndarray:
    """In place on the HxWx3 float32 output: the last norm with whole-image statistics,
    then the activation (Magenta: in6, then the sigmoid). Exact, and cheap: three
    channels. Works a band of `rows` rows at a time. Returns `out`. `adjust`: as `TiledRun.adjust_stats`."""
    t = torch.from_numpy(out)
    total = torch.zeros(3, dtype=torch.float64)
    for y in range(0, t.shape[0], rows):
        total += t[y : y + rows].double().sum(dim=(0, 1))
    n = t.shape[0] * t.shape[1]
    mean = total / n
    sq = torch.zeros(3, dtype=torch.float64)
    for y in range(0, t.shape[0], rows):
        sq += ((t[y : y + rows].double() - mean) ** 2).sum(dim=(0, 1))
    var = sq / n
    if adjust is not None:
        measured = (mean.float().view(1, -1, 1, 1), var.float().view(1, -1, 1, 1))
        used = adjust(norm.index, measured)
        if used is not measured:  # else keep float64: a frame on its own statistics is exactly a still
            mean, var = used[0].double().view(-1), used[1].double().view(-1)
    scale = norm.weight.detach().double().cpu() * torch.rsqrt(var + norm.eps)
    shift = norm.bias.detach().double().cpu() - mean * scale
    scale, shift = scale.float(), shift.float()
    with torch.inference_mode():
        for y in range(0, t.shape[0], rows):
            band = t[y : y + rows]  # a view of `out`
            _act_(band.mul_(scale).add_(shift), act)
    return out


@dataclass
class TiledRun:
    """Runs the network over an image in tiles of `tile` pixels (at full resolution)."""

    net: StagedNet
    tile: int
    device: torch.device
    dtype: torch.dtype
    spill_bytes: int = 1 << 30
    #: full-resolution maps up to this size are stored, not computed twice (`schedule`)
    full_map_bytes: int = 1 << 28
    precise_output: bool = False  # last convolution in float32 (for 16-bit and float images)
    on_progress: Progress | None = None
    cancelled: Callable[[], bool] | None = None
    #: what each norm uses instead of the statistics measured on this image: a clip's (`sequence.py`)
    adjust_stats: StatsAdjust | None = None

    def __post_init__(self) -> None:
        self._done = 0.0
        self._total = 1.0

    # -- one layer group over all tiles ------------------------------------

    def _tiles(self, source: Source, ops: Sequence[Op], scale: int):
        g = geometry(ops)
        step = max(g.down, (self.tile // scale) // g.down * g.down)
        for y0 in range(0, source.height, step):
            for x0 in range(0, source.width, step):
                yield g, y0, min(y0 + step, source.height), x0, min(x0 + step, source.width)

    def _run(
        self,
        source: Source,
        ops: Sequence[Op],
        stats: list[NormStats],
        scale: int,
        stage: str,
        write: Callable[[int, int, torch.Tensor], None],
    ) -> None:
        """Run `ops` tile by tile; `write(y, x, core)` receives each tile's exact core."""
        per_pixel = conv_cost(ops)
        ops = fold_norms(ops, stats)
        for g, y0, y1, x0, x1 in self._tiles(source, ops, scale):
            if self.cancelled is not None and self.cancelled():
                raise CancelledError("cancelled")
            top, left = min(y0, g.radius), min(x0, g.radius)
            bottom, right = min(source.height - y1, g.radius), min(source.width - x1, g.radius)
            with torch.inference_mode():
                out = apply_ops(ops, source.read(y0 - top, y1 + bottom, x0 - left, x1 + right), stats)
                f = g.up / g.down
                oy, ox = int(top * f), int(left * f)
                core = out[:, :, oy : oy + int((y1 - y0) * f), ox : ox + int((x1 - x0) * f)]
                write(int(y0 * f), int(x0 * f), core)
            self._done += per_pixel * (y1 - y0) * (x1 - x0)
            if self.on_progress is not None:
                self.on_progress(min(self._done / self._total, 1.0), stage)

    def _stats(self, source, ops, stats, scale, stage) -> NormStats:
        acc = RunningStats()
        self._run(source, ops, stats, scale, stage, lambda y, x, core: acc.add(core))
        return acc.result()

    def _store(self, source, ops, stats, scale, stage, measure: bool = True) -> tuple[torch.Tensor, NormStats | None]:
        g = geometry(ops)
        channels = [op for op in ops if isinstance(op, ConvLayer)][-1].conv.out_channels
        shape = (1, channels, source.height * g.up // g.down, source.width * g.up // g.down)
        stored = allocate_map(shape, self.dtype, self.device, self.spill_bytes)
        acc = RunningStats() if measure else None

        def write(y: int, x: int, core: torch.Tensor) -> None:
            stored[:, :, y : y + core.shape[2], x : x + core.shape[3]] = core
            if acc is not None:
                acc.add(core)

        self._run(source, ops, stats, scale, stage, write)
        return stored, None if acc is None else acc.result()

    def _adjusted(self, index: int, measured: NormStats) -> NormStats:
        return measured if self.adjust_stats is None else self.adjust_stats(index, measured)

    @staticmethod
    def _in_place(feature_map: torch.Tensor, fn: Callable[[torch.Tensor, int], torch.Tensor], rows: int = 64) -> None:
        """fn(band, first row) updates the map in place, a band of rows at a time
        (small enough to stay in cache, and no full-size temporary)."""
        with torch.inference_mode():
            for y in range(0, feature_map.shape[2], rows):
                fn(feature_map[:, :, y : y + rows], y)

    # -- the whole network ---------------------------------------------------

    def __call__(self, image: np.ndarray) -> np.ndarray:
        """`image`: HxWx3 float32 0..1, sides multiples of 4. Returns HxWx3 float32 network output."""
        net = self.net
        h, w = image.shape[:2]
        element = torch.empty((), dtype=self.dtype).element_size()
        store_full = full_resolution_channels(net) * element * h * w <= self.full_map_bytes
        steps = schedule(net, self.precise_output, store_full)
        stats: list[NormStats] = [None] * net.num_norms  # type: ignore[list-item]
        self._total = sum(conv_cost(s.ops) * (h // s.scale) * (w // s.scale) for s in steps if isinstance(s, Pass))
        image_src = image_source(image, net.input_scale, self.device, self.dtype)
        # the stored map the next pass reads (None: the image), and the residual block's input;
        # a map is freed as soon as neither refers to it
        current: torch.Tensor | None = None
        block_input: torch.Tensor | None = None
        out = np.empty((0, 0, 3), np.float32)  # allocated when the output pass starts, not before

        def write(y: int, x0: int, core: torch.Tensor) -> None:
            out[y : y + core.shape[2], x0 : x0 + core.shape[3]] = core[0].permute(1, 2, 0).float().cpu().numpy()

        for step in steps:
            if isinstance(step, Pass):
                src = image_src if current is None else map_source(current)
                if step.kind == "stats":
                    assert step.norm is not None  # what a "stats" pass measures
                    stats[step.norm.index] = self._adjusted(
                        step.norm.index, self._stats(src, step.ops, stats, step.scale, step.stage)
                    )
                elif step.kind == "store":
                    current, measured = self._store(
                        src, step.ops, stats, step.scale, step.stage, measure=step.norm is not None
                    )
                    if step.norm is not None and measured is not None:  # measured: there is a norm
                        stats[step.norm.index] = self._adjusted(step.norm.index, measured)
                else:
                    out = np.empty((h, w, 3), np.float32)
                    self._run(src, step.ops, stats, step.scale, step.stage, write)
                del src
            elif step.kind == "block input":
                if step.norm is not None or step.act != "none":  # else nothing to do: no pass over the map
                    assert current is not None  # a block starts on a stored map (`schedule`)
                    self._in_place(current, _affine_act(step.norm, stats, step.act, self.dtype))
                block_input = current
            elif step.kind == "residual":
                # x += u·a + b in place, band by band: the sum needs no third map
                assert step.norm is not None and current is not None and block_input is not None
                a, b = (t.to(self.dtype) for t in step.norm.affine(*stats[step.norm.index]))
                self._in_place(block_input, _residual_act(current, a, b, step.act))
                current, block_input = block_input, None
            else:
                assert step.norm is not None  # "finalize": the norm after the last convolution
                finalize(out, step.norm, step.act, adjust=self.adjust_stats)
        return out
