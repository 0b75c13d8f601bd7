"""The engine API: `Stylizer(...).stylize(pixels, style=..., ...)`."""

from __future__ import annotations

import logging
import operator
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import torch
from painterly_common import brush, style_kinds
from painterly_common.options import (
    DEFAULT_BRUSH_SIZE,
    DEFAULT_REFINE_STEPS,
    DEFAULT_STABILITY,
    DEFAULT_STYLE,
    MAX_BRUSH_SIZE,
    MAX_PIXEL_SCALE,
    MAX_REFINE_STEPS,
    MAX_TILE,
    MIN_BRUSH_SIZE,
    MIN_PIXEL_SCALE,
    MIN_SIDE,
    MIN_TILE,
    NATIVE,
    REFERENCE_SIDE,
    StylizeOptions,
)

from . import catalog, color, detail, refine, store, styles
from . import device as devices
from . import pixels as px
from .clip import Clip
from .errors import BadImageError, CancelledError, OutOfMemoryError, PainterlyError, UnknownStyleError
from .models import with_weights
from .models.magenta import MagentaTransformer, StylePredictor
from .models.multistyle import NUM_STYLES, MultiStyleTransformer
from .models.stages import StagedNet
from .models.transformer_net import TransformerNet
from .models.vgg import VGGEncoder
from .tiling import TiledRun

if TYPE_CHECKING:
    from .sequence import FrameProgress

log = logging.getLogger("painterly")

Progress = Callable[[float, str], None]
#: (photo, painted, network side, report) -> refined: see `_refining`
Refining = Callable[[np.ndarray, np.ndarray, int, Progress], np.ndarray]
Intermediate = Callable[[np.ndarray], None]  # the work so far, HxWx3 0..1: a preview while Refine runs
StyleArg = str | os.PathLike | np.ndarray | Sequence[str | os.PathLike | np.ndarray]
SIZE_MULTIPLE = 4
CONTEXT = 64  # pixels of surrounding picture kept around a selection, for the network's context


class CancelToken(threading.Event):
    """Set it (from any thread) to stop a running `stylize` before its next tile."""

    def cancel(self) -> None:
        self.set()


class Stylizer:
    """Loads models lazily and keeps them, so repeated calls only pay for the pixels."""

    def __init__(
        self,
        device: str | None = None,
        precision: str | None = None,
        tile: int | None = None,
        allow_download: bool = True,
        on_message: Callable[[str], None] | None = None,
    ) -> None:
        self.device = devices.resolve(device)  # None: PAINTERLY_DEVICE, else auto
        precision = precision or os.environ.get("PAINTERLY_PRECISION") or "auto"
        if precision not in ("auto", "full", "half"):
            raise PainterlyError(f"precision must be auto, full or half, got '{precision}'")
        self.precision = precision
        self.dtype = devices.compute_dtype(self.device, precision)
        self.tile = check_tile(tile)
        self.allow_download = allow_download
        self.on_message = on_message or log.info
        self._models: dict[tuple, object] = {}
        self._lock = threading.Lock()
        self._run_lock = threading.Lock()

    @property
    def device_description(self) -> str:
        for d in devices.list_devices():
            if torch.device(d.name) == self.device or d.name == str(self.device):
                return f"{d.description} ({str(self.dtype).removeprefix('torch.')})"
        return f"{self.device} ({str(self.dtype).removeprefix('torch.')})"

    def available_presets(self) -> list[dict]:
        return store.preset_records()

    # -- models ----------------------------------------------------------------

    def _cached(self, key: tuple, build: Callable[[], object]):
        with self._lock:
            if key not in self._models:
                self._models[key] = build()
            return self._models[key]

    def _state(self, name: str) -> dict[str, np.ndarray]:
        return store.load(name, self.allow_download, on_install=self.on_message)

    def network(self, name: str, device: torch.device | None = None) -> TransformerNet:
        """A preset's feed-forward network, in the compute precision, on `device`."""
        device = device or self.device
        dtype = self.dtype if device == self.device else devices.compute_dtype(device, self.precision)

        def build() -> TransformerNet:
            return with_weights(TransformerNet(), self._state(name)).to(device=device, dtype=dtype)

        return self._cached(("network", name, device, dtype), build)

    def transformer(self, device: torch.device | None = None) -> MagentaTransformer:
        """Magenta's transformer. Always float32: at 8–32 channels it is cheap, and half
        precision would cost accuracy for no real gain."""
        device = device or self.device

        def build() -> MagentaTransformer:
            return with_weights(MagentaTransformer(), self._state("magenta_transformer")).to(device)

        return self._cached(("transformer", device), build)

    def multistyle(self, device: torch.device | None = None) -> MultiStyleTransformer:
        """The 26-style network (Dumoulin et al.). Always float32, as Magenta's transformer: at 4–32
        channels half precision would save little and cost accuracy."""
        device = device or self.device

        def build() -> MultiStyleTransformer:
            return with_weights(MultiStyleTransformer(), self._state("multistyle")).to(device)

        return self._cached(("multistyle", device), build)

    def predictor(self) -> StylePredictor:
        return self._cached(("predictor",), lambda: styles.load_predictor(self._state("magenta_predictor")))

    def _painting(self, name: str) -> dict[str, np.ndarray]:
        return self._cached(("painting", name), lambda: self._state(name))

    def prepare(self, style: StyleArg, style_weights: Sequence[float] | None = None, refine: bool | int = 0) -> None:
        """Check the style (and mixing weights, and Refine) and install every model it needs."""
        resolved, steps = self._checked(style, style_weights, refine)
        self._prepare(resolved)
        if steps:
            self.loss_network()

    def check(self, style: StyleArg, style_weights: Sequence[float] | None = None, refine: bool | int = 0) -> None:
        """`prepare`'s checks without installing anything (a cluster's caller: its nodes install)."""
        self._checked(style, style_weights, refine)

    def _checked(
        self, style: StyleArg, style_weights: Sequence[float] | None, refine: bool | int
    ) -> tuple[list[tuple[str, object]], int]:
        resolved = self._resolve(style)
        styles.check_weights(len(resolved), None if style_weights is None else list(style_weights))
        steps = check_refine(refine)
        _check_refinable(resolved, steps)
        return resolved, steps

    def _prepare(self, resolved: list[tuple[str, object]]) -> None:
        for kind, value in resolved:
            if kind == "network":
                self.network(str(value))
                continue
            if kind == "multistyle":
                self.multistyle()
                continue
            if kind == "painting":
                self._painting(str(value))
            self.predictor()
            self.transformer()

    def _resolve(self, style: StyleArg) -> list[tuple[str, object]]:
        """[(kind, value)]: ("network", name), ("multistyle", style index), ("painting", name) or
        ("image", HxWx3 0..1). Styles that cannot be mixed together are refused (`style_kinds`)."""
        items = list(style) if isinstance(style, (list, tuple)) else [style]
        if not items:
            raise UnknownStyleError("no style given: name a preset or give a style image")
        kinds: list[tuple[str, str | None]] = []  # (label, method), for the mixing rule
        resolved: list[tuple[str, object]] = []  # an "image" holds the style as given until the rule passes
        for item in items:
            if isinstance(item, str) and item in catalog.presets():
                p = catalog.preset(item)
                kinds.append((p.display_name, p.method))
                if p.method == style_kinds.NETWORK:
                    resolved.append(("network", item))
                elif p.method == style_kinds.MULTISTYLE:
                    resolved.append(("multistyle", p.index))
                else:
                    resolved.append(("painting", p.models[0]))
            elif isinstance(item, np.ndarray) or styles.is_path_like(item):
                kinds.append(("a style image", style_kinds.ARBITRARY))
                resolved.append(("image", item))
            else:
                catalog.preset(str(item))  # raises the "unknown style" error with the preset list
        refusal = style_kinds.mix_refusal(kinds)
        if refusal:  # before any style image is read
            raise PainterlyError(refusal)
        for i, (kind, value) in enumerate(resolved):
            if kind == "image":
                assert isinstance(value, (str, os.PathLike, np.ndarray))
                resolved[i] = (kind, styles.style_image_rgb(value))
        return resolved

    def style_vector(
        self, style: StyleArg, weights: Sequence[float] | None = None, style_size: int = styles.DEFAULT_STYLE_SIZE
    ) -> torch.Tensor:
        """The (mixed) [1,100] style vector of painting presets and/or style images."""
        return self._vector(self._resolve(style), weights, style_size)

    def _vector(
        self, resolved: list[tuple[str, object]], weights: Sequence[float] | None, style_size: int
    ) -> torch.Tensor:
        size = styles.check_style_size(style_size)
        vectors = []
        for kind, value in resolved:
            if kind in ("network", "multistyle"):
                raise PainterlyError("a network preset or a look has no Magenta style vector")
            if kind == "painting":
                stored = self._painting(str(value))
                if size == styles.DEFAULT_STYLE_SIZE:
                    vectors.append(torch.from_numpy(stored["style_vector"].copy()).view(1, -1))
                    continue
                value = stored["pixels"].astype(np.float32) / 255.0
            assert isinstance(value, np.ndarray)  # a painting's pixels, or an "image": HxWx3 0..1
            vectors.append(styles.style_vector(self.predictor(), value, size))
        return styles.mix(vectors, None if weights is None else list(weights))

    # -- the public call ---------------------------------------------------------

    def stylize(
        self,
        pixels: np.ndarray,
        style: StyleArg = DEFAULT_STYLE,
        strength: float = 1.0,
        preserve_color: bool = False,
        mask: np.ndarray | None = None,
        max_side: int | None = None,
        on_progress: Progress | None = None,
        cancel: threading.Event | None = None,
        tile: int | None = None,
        style_weights: Sequence[float] | None = None,
        style_size: int = styles.DEFAULT_STYLE_SIZE,
        brush_size: int | str = DEFAULT_BRUSH_SIZE,
        image_side: int | None = None,
        pixel_scale: float = 1.0,
        refine: bool | int = False,
        options: StylizeOptions | None = None,
        on_intermediate: Intermediate | None = None,
        clip: Clip | None = None,
    ) -> np.ndarray:
        """Stylize an HxW, HxWx3 or HxWx4 uint8/uint16/float32 image; same shape and dtype back.

        `style`: a preset name, a style image (path or array), or a list of painting
        presets / style images mixed by `style_weights`. Network presets blend their
        output with the original by `strength`; arbitrary styles blend the style
        vector with the content's own vector (Magenta's method).

        `brush_size`: the strokes' size in percent of those a 1024-pixel picture gets, whatever
        the picture's size (`painterly_common.brush`), or "native": the network at the picture's own size.
        `image_side` and `pixel_scale` say what the pixels are part of: the long side in layer
        pixels of the whole layer (for a selection's part of it) and how many layer pixels one
        pixel stands for (for a preview from a reduced copy); see `StylizeOptions`.

        `refine`: True (or a number of steps) then optimizes the fast result towards the style
        image (Gatys et al.'s method, `refine.py`): slower, closer to the painting. For styles
        with a style image only (painting presets, style images, their mixes). `on_intermediate`
        then gets the work so far (HxWx3 0..1, the stylized area at the size being optimized):
        the fast result, then each size's (a preview of what is coming).

        `options`: a `painterly_common.options.StylizeOptions` (what the plug-ins and the
        command line send); when given, it replaces the style and option arguments.

        `clip`: the sequence this picture is a frame of (`stylize_sequence` passes it): its norms
        then use the shot's statistics, not the frame's own (`clip.py`)."""
        if options is not None:
            args = options.engine_arguments()
            style, style_weights, strength = args["style"], args["style_weights"], args["strength"]
            preserve_color, style_size, max_side = args["preserve_color"], args["style_size"], args["max_side"]
            brush_size, image_side, pixel_scale = args["brush_size"], args["image_side"], args["pixel_scale"]
            refine = args["refine"]
        image = px.split(pixels)
        check_options(
            strength=strength,
            max_side=max_side,
            tile=tile,
            style_size=style_size,
            brush_size=brush_size,
            image_side=image_side,
            pixel_scale=pixel_scale,
        )
        strength = float(strength)
        refine_steps = check_refine(refine)
        tile = check_tile(tile) or self.tile
        coverage = _check_mask(mask, pixels.shape[:2])
        resolved = self._resolve(style)
        styles.check_weights(len(resolved), None if style_weights is None else list(style_weights))
        _check_refinable(resolved, refine_steps)
        if strength == 0.0 or (coverage is not None and not coverage.any()):
            return pixels.copy()
        report = on_progress or (lambda f, s: None)
        self._prepare(resolved)  # installs what is missing before any pixel work
        refining = None
        if refine_steps:
            refining = self._refining(
                resolved, style_weights, style_size, strength, refine_steps, cancel, on_intermediate
            )

        y0, y1, x0, x1 = _region(coverage, image.rgb.shape[:2])
        content = image.rgb[y0:y1, x0:x1]
        source = px.fill_transparent(content, None if image.alpha is None else image.alpha[y0:y1, x0:x1])
        scale = brush.network_scale(
            max(pixels.shape[:2]), max(y1 - y0, x1 - x0), brush_size, image_side, pixel_scale, max_side
        )
        work_size = work_h, work_w = brush.working_size(y1 - y0, x1 - x0, scale)
        if work_h * work_w > px.max_pixels():  # a lying image_side or pixel_scale must not exhaust memory
            raise BadImageError(
                f"at this brush size the network would paint {work_w}×{work_h} pixels, over the limit of "
                f"{px.max_pixels() / 1e6:.0f} megapixels: choose a larger brush size or check image_side and "
                "pixel_scale"
            )
        if resolved[0][0] == "network":
            name = str(resolved[0][1])
            stylized = self._run(
                lambda device: self.network(name, device),
                source,
                work_size,
                tile,
                report,
                cancel,
                precise=pixels.dtype != np.uint8,
                refine=refining,
                clip=clip,
            )
            effect = strength
        elif resolved[0][0] == "multistyle":
            weights = styles.check_weights(len(resolved), None if style_weights is None else list(style_weights))
            mixed = torch.zeros(NUM_STYLES)
            for (_, index), share in zip(resolved, weights, strict=True):
                assert isinstance(index, int)
                mixed[index] += float(share)

            def look(device: torch.device) -> MultiStyleTransformer:
                net = self.multistyle(device)
                net.set_style(mixed)
                return net

            with self._run_lock:  # the network holds the style in its norms
                stylized = self._run(look, source, work_size, tile, report, cancel, clip=clip)
            effect = strength  # no vector of the photo's own to mix with: the output is blended, as a network's
        else:
            vector = self._vector(resolved, style_weights, style_size)
            if strength < 1.0:
                own = clip.own_vector if clip is not None else None
                if own is None:
                    own = styles.style_vector(self.predictor(), source, styles.DEFAULT_STYLE_SIZE)
                    if clip is not None:  # a frame's own vector would change from frame to frame
                        clip.own_vector = own
                vector = strength * vector + (1.0 - strength) * own

            def styled(device: torch.device) -> MagentaTransformer:
                net = self.transformer(device)
                net.set_style(vector)
                return net

            with self._run_lock:  # the transformer holds the style in its norms
                stylized = self._run(styled, source, work_size, tile, report, cancel, refine=refining, clip=clip)
            effect = 1.0  # the strength is already in the vector
        weight = effect if coverage is None else coverage[y0:y1, x0:x1] * effect
        _blend_into(content, stylized, weight, preserve_color)  # image.rgb is ours: no copy
        result = px.join(image.rgb, image, pixels)
        untouched = np.ones(pixels.shape[:2], bool)
        untouched[y0:y1, x0:x1] = np.broadcast_to(np.asarray(weight) <= 0, (y1 - y0, x1 - x0))
        result[untouched] = pixels[untouched]  # bit-exact outside the effect
        report(1.0, "done")
        return result

    def stylize_sequence(
        self,
        frames: Iterable[np.ndarray],
        stability: float = DEFAULT_STABILITY,
        on_progress: FrameProgress | None = None,
        **options: Any,
    ) -> Iterator[np.ndarray]:
        """The frames of one clip, in order, each stylized as `stylize(frame, **options)` would, but
        stable over time: the norms use the shot's statistics and the strokes move with the content
        (`sequence.py`). A generator: each frame is read as the one before is taken, so a clip of
        any length takes the memory of a frame or two. `stability`: 0 stylizes each frame alone, up
        to 0.95; `on_progress(frame index, fraction of that frame, stage)`. Every frame must have
        the first one's size (a `BadImageError` otherwise, raised when that frame comes)."""
        from .sequence import stylize_frames

        return stylize_frames(self, frames, stability, on_progress, **options)

    # -- running the network -------------------------------------------------------

    def _run(
        self,
        network_on: Callable[[torch.device], StagedNet],
        rgb: np.ndarray,
        size: tuple[int, int],
        tile: int | None,
        report: Progress,
        cancel: threading.Event | None,
        precise: bool = False,
        refine: Refining | None = None,
        clip: Clip | None = None,
    ) -> np.ndarray:
        """The stylized HxWx3 0..1 image, as HxWx3 0..1, with the network run at `size` (the
        working size, `painterly_common.brush`): a reduced picture comes back with its full-resolution detail
        (`detail.py`), an enlarged one is reduced again. `network_on(device)` gives the network
        ready to run on that device; `precise` keeps the last convolution in float32 (8-bit
        output does not need it: bf16 there costs at most one level in 255, and the float32
        layer took a quarter of the time). `refine(photo, painted, network side, report)`, when
        given, improves the network's picture at the working size, before the detail step; or at
        the picture's own size when the network painted it enlarged (the optimization reads the
        painting in proportion, so its strokes come out the same, and costs pixels × steps)."""
        h, w = rgb.shape[:2]
        reduced = size != (h, w) and size[0] <= h and size[1] <= w
        work = rgb if size == (h, w) else px.resize(rgb, size)
        # at 16 MP, 2.3 of the 3.3 s pass before the detail step's bands (reading, reducing, the
        # network, the step's set-up), 0.5 s in them and 0.4 s after (blending): the bar follows the time
        painting_end = 0.7 if reduced else 1.0
        # Refine's steps are each several network passes at the working size: the network gets 5 %
        network_end = painting_end if refine is None else 0.05 * painting_end
        painted = self._network_pass(
            network_on, work, tile, _part_progress(report, 0.0, network_end), cancel, precise, clip
        )
        if size != (h, w) and not reduced:  # enlarged: painted bigger, then reduced (antialiased)
            painted, work = px.resize(painted, (h, w)), rgb
        if refine is not None:
            painted = refine(work, painted, max(size), _part_progress(report, network_end, painting_end))
        if not reduced:
            return painted

        def band_done(fraction: float) -> None:
            if cancel is not None and cancel.is_set():
                raise CancelledError("cancelled")
            report(painting_end + (1.0 - painting_end) * fraction, "full-resolution detail")

        return detail.restore(rgb, work, painted, on_band=band_done)

    def _refining(
        self,
        resolved: list[tuple[str, object]],
        weights: Sequence[float] | None,
        style_size: int,
        strength: float,
        steps: int,
        cancel: threading.Event | None,
        on_intermediate: Intermediate | None = None,
    ) -> Refining:
        """Refine's step for `_run`: the style images (a painting's stored copy, or the image) and the
        loss network, ready; the optimization itself runs when `_run` calls it."""
        images = []
        for kind, value in resolved:
            if kind == "painting":
                images.append(self._painting(str(value))["pixels"].astype(np.float32) / 255.0)
            else:
                assert isinstance(value, np.ndarray)
                images.append(value)
        mix = [1.0] * len(images) if weights is None else [float(x) for x in weights]
        total = sum(mix)
        mix = [strength * x / total for x in mix]
        low = self.dtype if self.dtype != torch.float32 else None
        refiner = refine.Refiner(self.loss_network(), self.device, autocast=low)
        # the style size's meaning from the fast methods: smaller reads the painting's strokes as
        # larger features
        bolder = styles.DEFAULT_STYLE_SIZE / styles.check_style_size(style_size)

        def run(photo: np.ndarray, painted: np.ndarray, network_side: int, report: Progress) -> np.ndarray:
            # The painting is read at `style_scale` times the size being optimized. Gram matching
            # copies its features at their size in pixels, so a stroke's share of the picture is its
            # share of the painting × style_scale: the brush size's rule (brush.py: brush 200, strokes
            # twice the share) holds with REFERENCE_SIDE / the network's side (brush 200 on a large
            # photo: the picture optimized at 512, the painting read at 1024; a photo smaller than the
            # network's side, optimized at its own size, gets the painting in the same proportion).
            # The coarser sizes shrink picture and painting together.
            style_scale = bolder * REFERENCE_SIDE / network_side
            # a strength below 1 aims at the painting's statistics mixed with the photo's own, as the
            # fast methods mix the style vector with the photo's (and a network's output with the photo)
            targets, target_mix = (images, mix) if strength >= 1.0 else ([*images, photo], [*mix, 1.0 - strength])
            return refiner.run(
                photo, painted, targets, target_mix, steps, style_scale, report, cancel, on_scale=on_intermediate
            )

        return run

    def loss_network(self) -> VGGEncoder:
        """Refine's loss network (VGG19 to relu4_1), installed on first use (the Refiner moves it to the device)."""

        def build() -> VGGEncoder:
            return with_weights(VGGEncoder(), self._state("vgg_normalised"))

        return self._cached(("loss_network",), build)

    def _network_pass(
        self,
        network_on: Callable[[torch.device], StagedNet],
        work: np.ndarray,
        tile: int | None,
        report: Progress,
        cancel: threading.Event | None,
        precise: bool,
        clip: Clip | None = None,
    ) -> np.ndarray:
        """The network's output for HxWx3 0..1 `work`, at its size, clipped to 0..1."""
        padded, (ph, pw) = _pad(work)
        device = self.device
        net = network_on(device)
        tile = tile or self._auto_tile(padded.shape[0] * padded.shape[1], device, net.conv1.conv.weight.dtype)
        while True:
            try:
                out = TiledRun(
                    net,
                    tile,
                    device,
                    net.conv1.conv.weight.dtype,
                    on_progress=report,
                    cancelled=cancel.is_set if cancel else None,
                    precise_output=precise,
                    adjust_stats=None if clip is None else clip.statistics,
                )(padded)
                break
            except (torch.OutOfMemoryError, MemoryError) as exc:
                if tile > MIN_TILE:
                    tile //= 2
                    self.on_message(f"out of memory on {device}: retrying with {tile}-pixel tiles")
                elif device.type != "cpu":
                    device = torch.device("cpu")
                    net = network_on(device)
                    tile = self._auto_tile(padded.shape[0] * padded.shape[1], device, net.conv1.conv.weight.dtype)
                    self.on_message("out of memory on the GPU: continuing on the CPU")
                else:
                    raise OutOfMemoryError(
                        "not enough memory even for the smallest tiles: close other "
                        "programs or use --max-side to work at a lower resolution"
                    ) from exc
                _free(device)
        out = out[:ph, :pw]
        if net.input_scale != 1.0:
            out /= net.input_scale
        np.clip(out, 0.0, 1.0, out=out)
        return out

    def _auto_tile(self, pixels: int, device: torch.device | None = None, dtype: torch.dtype | None = None) -> int:
        """Tile side (full-resolution pixels).

        On the CPU, tiles are kept small enough that no activation exceeds about
        30 MB: glibc serves larger blocks with fresh mmap()s, and the page faults
        made 1024-pixel tiles 1.5–2× slower than 384-pixel ones here (the exact
        tiling costs little per tile). On GPUs, as large as a quarter of free memory
        allows (about 600 bytes per pixel in half precision). `dtype`: the network's (the looks and
        Magenta's transformer run in float32 whatever the engine's precision)."""
        device = device or self.device
        dtype = dtype or self.dtype
        budget = devices.available_memory(device) // 4
        side = int((budget / 600) ** 0.5) // 64 * 64
        if device.type == "cpu":
            largest = 64 * (2 if dtype != torch.float32 else 4)  # bytes per pixel, widest upsampled map
            side = min(side, int((30e6 / largest) ** 0.5) // 64 * 64)
        return max(MIN_TILE, min(side, 2048))


def _blend_into(
    content: np.ndarray, stylized: np.ndarray, weight: np.ndarray | float, preserve_color: bool, rows: int = 256
) -> None:
    """content ← the stylized picture, colour-preserved and mixed by `weight`, a band
    of rows at a time: the colour conversions make several temporaries, and whole
    16-megapixel ones would double the peak memory."""
    for y in range(0, content.shape[0], rows):
        c, s = content[y : y + rows], stylized[y : y + rows]
        w = weight[y : y + rows] if isinstance(weight, np.ndarray) else weight
        if preserve_color:
            s = color.preserve_color(c, s)
        c[...] = s if np.isscalar(w) and w == 1.0 else color.mix(c, s, w)


def _part_progress(report: Progress, start: float, end: float) -> Progress:
    """Progress of a part of the work that takes the bar from `start` to `end`."""
    return lambda fraction, stage: report(start + (end - start) * fraction, stage)


def _free(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()


def _check_strength(strength: float) -> float:
    try:
        s = float(strength)
    except (TypeError, ValueError):
        raise PainterlyError(f"strength must be a number from 0 to 1, got {strength!r}") from None
    if not 0.0 <= s <= 1.0:
        raise PainterlyError(f"strength must be from 0 to 1, got {s}")
    return s


def _check_mask(mask: np.ndarray | None, shape: tuple[int, int]) -> np.ndarray | None:
    if mask is None:
        return None
    m = np.asarray(mask)
    if m.shape != shape:
        raise BadImageError(f"the selection mask is {m.shape}, but the image is {shape}")
    if m.dtype == np.uint8:
        return m.astype(np.float32) / 255.0
    m = m.astype(np.float32)
    if not np.isfinite(m).all():
        raise BadImageError("the selection mask contains NaN or infinite values")
    return np.clip(m, 0.0, 1.0)


def _region(coverage: np.ndarray | None, shape: tuple[int, int]) -> tuple[int, int, int, int]:
    """The part of the image to process: the selection's bounds plus some context."""
    h, w = shape
    if coverage is None:
        return 0, h, 0, w
    ys, xs = np.nonzero(coverage.any(axis=1))[0], np.nonzero(coverage.any(axis=0))[0]
    return (
        max(0, ys[0] - CONTEXT),
        min(h, ys[-1] + 1 + CONTEXT),
        max(0, xs[0] - CONTEXT),
        min(w, xs[-1] + 1 + CONTEXT),
    )


def check_options(
    *,
    strength: float = 1.0,
    max_side: int | None = None,
    tile: int | None = None,
    style_size: int = styles.DEFAULT_STYLE_SIZE,
    brush_size: int | str = DEFAULT_BRUSH_SIZE,
    image_side: int | None = None,
    pixel_scale: float = 1.0,
) -> None:
    """Refuse out-of-range options with a one-line `PainterlyError`, before any work: the
    command line calls it before it installs models or reads images."""
    _check_strength(strength)
    _check_max_side(max_side)
    check_tile(tile)
    styles.check_style_size(style_size)
    check_brush_size(brush_size)
    if image_side is not None and (_whole(image_side) is None or image_side < 1):
        raise PainterlyError(f"image_side must be a whole number of pixels above 0, got {image_side!r}")
    try:
        ok = MIN_PIXEL_SCALE <= float(pixel_scale) <= MAX_PIXEL_SCALE
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise PainterlyError(
            f"pixel_scale must be a number from 1/{MAX_PIXEL_SCALE:.0f} to {MAX_PIXEL_SCALE:.0f}, got {pixel_scale!r}"
        )


def _check_refinable(resolved: list[tuple[str, object]], steps: int) -> None:
    if steps and resolved[0][0] in ("network", "multistyle"):
        what = f"'{resolved[0][1]}' is a network preset" if resolved[0][0] == "network" else "the looks are a network"
        raise PainterlyError(
            f"Refine needs a style image, and {what}, which has none: "
            "choose a painting preset or a style image, or turn Refine off"
        )


def check_refine(refine: bool | int) -> int:
    """Refine's number of steps: 0 (off), DEFAULT_REFINE_STEPS for True, or the whole number given."""
    if refine is True:
        return DEFAULT_REFINE_STEPS
    if refine is False or refine is None:
        return 0
    value = _whole(refine)
    if value is None or not 0 <= value <= MAX_REFINE_STEPS:
        raise PainterlyError(
            f"refine must be true, false or a whole number of steps from 0 to {MAX_REFINE_STEPS}, got {refine!r}"
        )
    return value


def check_brush_size(brush_size: int | str) -> int | str:
    """A brush size as the engine takes it: a whole percentage in range, or "native"."""
    if isinstance(brush_size, str) and brush_size == NATIVE:
        return NATIVE
    value = _whole(brush_size)
    if value is None or not MIN_BRUSH_SIZE <= value <= MAX_BRUSH_SIZE:
        raise PainterlyError(
            f"the brush size must be a whole percentage from {MIN_BRUSH_SIZE} to {MAX_BRUSH_SIZE}, "
            f"or {NATIVE} (the network at the picture's own size), got {brush_size!r}"
        )
    return value


def _whole(value: object) -> int | None:
    """`value` as an int when it is a whole number type (numpy's too), else None."""
    if isinstance(value, bool):
        return None
    try:
        return operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        return None


def check_tile(tile: int | None) -> int | None:
    """A tile side in pixels; None or 0 means "from free memory"."""
    value = _whole(tile)
    if tile is None or value == 0:
        return None
    if value is None or not MIN_TILE <= value <= MAX_TILE:
        raise PainterlyError(
            f"the tile size must be 0 (automatic) or a whole number of pixels from {MIN_TILE} to {MAX_TILE}, got {tile}"
        )
    return value


def _check_max_side(max_side: int | None) -> None:
    value = _whole(max_side)
    if max_side is not None and (value is None or value < MIN_SIDE):
        raise PainterlyError(
            f"max-side must be a whole number of at least {MIN_SIDE} pixels (leave it out for no limit), got {max_side}"
        )


def _pad(rgb: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
    """Mirror-pad to the network's size multiple (and minimum); returns the padded image
    and the original size, to crop the output back."""
    h, w = rgb.shape[:2]
    th = max(MIN_SIDE, -(-h // SIZE_MULTIPLE) * SIZE_MULTIPLE)
    tw = max(MIN_SIDE, -(-w // SIZE_MULTIPLE) * SIZE_MULTIPLE)
    if (th, tw) == (h, w):
        return rgb, (h, w)
    mode: Literal["reflect", "edge"] = "reflect" if th - h < h and tw - w < w else "edge"
    return np.pad(rgb, ((0, th - h), (0, tw - w), (0, 0)), mode=mode), (h, w)
