"""Refine: the optimization method of Gatys, Ecker & Bethge (2016), started from the fast result.

The picture itself is what is optimized. Its VGG features (`models.vgg`) are compared with the
style image's, as Gram matrices (the style: which features occur together, wherever they are),
and with the photo's at a deep layer (the content: what is where); back-propagation moves the
pixels until both match. Starting from the feed-forward result rather than from noise or the
photo, most of the way is already done, so a few hundred steps suffice.

As in crowsonkb's style-transfer-pytorch: the losses are scale-free ("scaled MSE": the squared
error over the absolute error, so no layer dominates by its magnitude), style layers are weighted
by 1/channels, Adam works on the pixels, and the picture is optimized from coarse to fine: a few
sizes growing by √2 up to the working size, each started from the last one enlarged. The coarse
sizes cost little and settle the large shapes; the last one draws the strokes.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from painterly_common.options import DEFAULT_REFINE_STEPS

from . import pixels as px
from .errors import CancelledError, PainterlyError
from .models.vgg import LAYERS, VGGEncoder

Progress = Callable[[float, str], None]

STYLE_LAYERS = ("conv1_1", "conv2_1", "conv3_1", "conv4_1")
CONTENT_LAYER = "conv4_1"
_LOSS_LAYERS = tuple(dict.fromkeys((*STYLE_LAYERS, CONTENT_LAYER)))
MIN_SIDE = 128  # the coarsest size: below it VGG's three poolings leave too little to compare
#: the finest size optimized at. A step costs the loss network forward and back, in proportion to
#: the pixels: on 2 CPU cores 1.2 s at 362×241 (bench/refine.py steps), so 100 steps ending at
#: 1024×683 would take about 6 minutes. Above this size the optimization's changes are carried onto
#: the fast result, as from one size to the next: the network's finest strokes stay, Refine moves
#: the colours, textures and shapes. A 1-megapixel photo at brush 100, 100 steps (bench/refine.py
#: time): 114 s with 512 here, 192 s with 724 (finer swirls, over the 3 minutes aimed at)
MAX_SIDE = 512
#: the longest side a style image is read at: VGG's first layers there hold 64 channels × its
#: pixels twice over (1.6 GB at 2048×1536 in float32); larger would be style size < 128 at brush 100
MAX_STYLE_SIDE = 2048


class RefineDivergedError(PainterlyError):
    """The optimization produced NaN or a loss that grew without bound."""


@dataclass(frozen=True)
class Weights:
    content: float = 0.2  # bench (brush 200, 3 photos × 3 paintings, 100 steps): content ≤1.16× the fast result's
    tv: float = 2.0
    lr: float = 0.02


def gram(features: torch.Tensor) -> torch.Tensor:
    """[N, C, H, W] -> [N, C, C]: the features' co-occurrences, averaged over the positions."""
    n, c, h, w = features.shape
    flat = features.reshape(n, c, h * w)
    return flat @ flat.transpose(1, 2) / (h * w)


def scaled_mse(x: torch.Tensor, target: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    diff = x - target
    return diff.pow(2).sum() / diff.abs().sum().add(eps)


def total_variation(x: torch.Tensor) -> torch.Tensor:
    x = F.pad(x, (0, 1, 0, 1), "replicate")
    dx = x[..., :-1, 1:] - x[..., :-1, :-1]
    dy = x[..., 1:, :-1] - x[..., :-1, :-1]
    return (dx.pow(2) + dy.pow(2)).mean()


def sides(long_side: int) -> list[int]:
    """The long sides optimized at, coarse to fine: ×√2 from MIN_SIDE, ending at `long_side`."""
    out = [long_side]
    while out[-1] / math.sqrt(2) >= MIN_SIDE:
        out.append(round(out[-1] / math.sqrt(2)))
    return out[::-1]


def schedule(long_side: int, steps: int) -> list[tuple[int, int]]:
    """(long side, steps) per size, coarse to fine: equal shares of the steps (the coarse sizes are
    cheap), the remainder to the finest; with fewer steps than sizes, only the finest sizes."""
    scales = sides(long_side)[-max(1, steps) :]
    base = steps // len(scales)
    shares = [base] * len(scales)
    shares[-1] += steps - base * len(scales)
    return list(zip(scales, shares, strict=True))


class Refiner:
    """Optimizes a picture towards a style's Gram matrices with the VGG encoder on `device`."""

    def __init__(
        self,
        vgg: VGGEncoder,
        device: torch.device,
        weights: Weights | None = None,
        autocast: torch.dtype | None = None,
    ) -> None:
        self.vgg = vgg.to(device).eval().requires_grad_(False)
        self.device = device
        self.weights = weights or Weights()
        # the VGG passes in bf16 (CPU) or fp16 (GPU) when the engine runs in it; the picture, the
        # Gram matrices and the losses stay float32
        self.autocast = autocast
        channels = {layer[0]: layer[2] for layer in LAYERS if isinstance(layer, tuple)}
        total = sum(1.0 / channels[name] for name in STYLE_LAYERS)
        self.layer_weights = {name: (1.0 / channels[name]) / total for name in STYLE_LAYERS}

    def _tensor(self, rgb: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(rgb, np.float32)).permute(2, 0, 1)[None].to(self.device)

    def style_targets(
        self, images: Sequence[np.ndarray], weights: Sequence[float], long_side: int
    ) -> dict[str, torch.Tensor]:
        """The mixed Gram matrices of the style images, each read at `long_side` (at most
        MAX_STYLE_SIDE) on its long side."""
        long_side = min(long_side, MAX_STYLE_SIDE)
        total = float(sum(weights))
        targets: dict[str, torch.Tensor] = {}
        with torch.no_grad():
            for image, weight in zip(images, weights, strict=True):
                h, w = image.shape[:2]
                scale = long_side / max(h, w)
                size = (max(16, round(h * scale)), max(16, round(w * scale)))
                feats = self.vgg.features(self._tensor(px.resize(image, size)), STYLE_LAYERS)
                for name in STYLE_LAYERS:
                    g = gram(feats[name]) * (weight / total)
                    targets[name] = targets[name] + g if name in targets else g
        return targets

    def run(
        self,
        content: np.ndarray,
        start: np.ndarray,
        style_images: Sequence[np.ndarray],
        style_weights: Sequence[float],
        steps: int = DEFAULT_REFINE_STEPS,
        style_scale: float = 1.0,
        report: Progress | None = None,
        cancel: threading.Event | None = None,
        on_scale: Callable[[np.ndarray], None] | None = None,
    ) -> np.ndarray:
        """`start` (HxWx3 0..1, the fast result) refined towards the styles, at `content`'s size.

        `style_scale`: the style images are read at this times the size being optimized (smaller:
        larger strokes). `on_scale` gets the work so far (the preview's intermediate pictures): `start`,
        then each size's result."""
        h, w = content.shape[:2]
        report = report or (lambda f, s: None)
        if on_scale is not None:
            on_scale(start)
        plan = schedule(min(max(h, w), MAX_SIDE), steps)
        cost = [s * s * n for s, n in plan]  # time goes as pixels × steps
        done_cost, total_cost = 0.0, float(sum(cost))
        image: torch.Tensor | None = None
        for index, (side, n_steps) in enumerate(plan):
            f = side / max(h, w)
            size = (max(16, round(h * f)), max(16, round(w * f)))
            photo = self._tensor(px.resize(content, size))
            fast = self._tensor(px.resize(start, size))
            image = fast if image is None else self._carried(image, start, fast)
            targets = self.style_targets(style_images, style_weights, max(16, round(side * style_scale)))
            with torch.no_grad():
                content_target = self.vgg.features(photo, (CONTENT_LAYER,))[CONTENT_LAYER]
            part = _part(report, done_cost / total_cost, (done_cost + cost[index]) / total_cost, size)
            image = self._optimize(image, targets, content_target, n_steps, cancel, part)
            done_cost += cost[index]
            if on_scale is not None:
                on_scale(image[0].permute(1, 2, 0).cpu().numpy())
        assert image is not None
        if image.shape[2:] != (h, w):  # above MAX_SIDE
            image = self._carried(image, start, self._tensor(start))
        return np.clip(image[0].permute(1, 2, 0).cpu().numpy().astype(np.float32), 0.0, 1.0)

    def _carried(self, image: torch.Tensor, start: np.ndarray, fast: torch.Tensor) -> torch.Tensor:
        """What the optimization changed at `image`'s size, enlarged onto the fast result at a larger
        size (`fast`, `start` at that size): an enlarged picture would lose the fast result's fine
        strokes, which cost nothing."""
        change = image - self._tensor(px.resize(start, (image.shape[2], image.shape[3])))
        size = (fast.shape[2], fast.shape[3])
        return (fast + F.interpolate(change, size=size, mode="bicubic", align_corners=False)).clamp_(0, 1)

    def loss(self, image: torch.Tensor, targets: dict[str, torch.Tensor], content_target: torch.Tensor) -> torch.Tensor:
        """The loss one step minimizes: the style layers' Gram losses, the content loss, total variation."""
        with torch.autocast(self.device.type, dtype=self.autocast or torch.float32, enabled=bool(self.autocast)):
            feats = self.vgg.features(image, _LOSS_LAYERS)
        feats = {n: f.float() for n, f in feats.items()}
        loss = sum(self.layer_weights[n] * scaled_mse(gram(feats[n]), targets[n]) for n in STYLE_LAYERS)
        loss = loss + self.weights.content * scaled_mse(feats[CONTENT_LAYER], content_target)
        return loss + self.weights.tv * total_variation(image)

    def _optimize(
        self,
        image: torch.Tensor,
        targets: dict[str, torch.Tensor],
        content_target: torch.Tensor,
        steps: int,
        cancel: threading.Event | None,
        tick: Callable[[int, int], None],
    ) -> torch.Tensor:
        image = image.detach().clone().requires_grad_(True)
        optimizer = torch.optim.Adam([image], lr=self.weights.lr)
        first: float | None = None
        for i in range(steps):
            if cancel is not None and cancel.is_set():
                raise CancelledError("cancelled")
            optimizer.zero_grad(set_to_none=True)
            loss = self.loss(image, targets, content_target)
            value = float(loss.detach())
            if not math.isfinite(value) or (first is not None and value > 100 * first):
                raise RefineDivergedError(
                    f"Refine stopped: the optimization diverged (loss {value:.3g} at step {i + 1}); "
                    "your image was not changed: try fewer steps or another style"
                )
            first = value if first is None else first
            loss.backward()
            optimizer.step()
            with torch.no_grad():
                image.clamp_(0.0, 1.0)
            tick(i + 1, steps)
        return image.detach()


def _part(report: Progress, start: float, end: float, size: tuple[int, int]) -> Callable[[int, int], None]:
    """(step, of steps) at one size -> the bar from `start` to `end` of the whole Refine."""
    stage = f"refining at {size[1]}×{size[0]}"
    return lambda i, n: report(start + (end - start) * i / n, stage)
