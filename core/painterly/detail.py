"""Full-resolution detail: a result painted at the working size, brought back to the picture's size.

Bicubic enlargement alone is blurry at 100 % zoom: ropes, lettering and leaf edges melt
into the strokes. What enlargement misses is exactly the photo's band above the working
size's resolution: `photo − enlarge(reduce(photo))`. That band is added to the enlarged
result, scaled per colour channel by the local gain with which the stylized picture follows
the photo's lightness at the working size (a guided filter's linear model, He et al. 2013,
applied to the missing band only). Where the style follows the photo, the detail comes back
in the style's colours; where the style paints flat areas or its own strokes (gain near 0),
no photo texture is pasted over them.

Compared on a 3072×2048 photo collage, mosaic / a painting as the style (`bench/brush.py`,
`approaches`: Gram distance from the 1024-px result seen at 1024 and at 512 px, and the gradient
energy against bicubic's; 100 % crops in `build/bench/brush/approaches-crops-100pct.png`):

| approach | Gram at 1024 | Gram at 512 | sharpness | at 100 % |
|---|---|---|---|---|
| bicubic enlargement | 0.155 / 0.075 | 0.064 / 0.016 | 1× | soft joints, ropes melted |
| guided-filter upsampling of the result | 0.62 / 0.43 | 0.41 / 0.25 | 2.0× | the photo back, strokes gone |
| + the network's band at full size | 0.17 / 0.047 | 0.11 / 0.018 | 7.2× | cells in cells; 0.1's cost |
| + the photo's band | 0.139 / 0.057 | 0.069 / 0.018 | 2.4× / 6.1× | crisp, photo texture on flat strokes |
| + the photo's band × guided gain | 0.139 / 0.067 | 0.067 / 0.017 | 2.0× / 2.5× | crisp where the style follows |
| the same on a back-projected result (kept) | 0.046 / 0.013 | 0.065 / 0.024 | 2.7× / 2.9× | crisp joints and ropes |

Everything is computed a band of rows at a time from the small working-size arrays and the
photo, so the full-size memory is the output alone, and any band equals the whole-picture
computation exactly (each output pixel depends only on fixed taps of the small arrays).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

LUMA = (0.2126, 0.7152, 0.0722)  # Rec. 709, as `pixels.join` uses for grey output
GAIN_RADIUS = 2  # working-size pixels each way of the local fit
GAIN_EPS = 1e-3  # regularises the fit where the photo is flat (lightness std below about 0.03)
GAIN_RANGE = (0.0, 2.0)  # negative or huge gains only amplify noise into halos
CUBIC = -0.5  # Catmull-Rom: sharp, with less ringing than torch's -0.75
#: Rows per band. Each band's temporaries are rows × width × 7 floats: at 128 rows of a 16 MP
#: picture (17 MB each) the step took 42 s, at 16 rows 1.2 s (glibc maps and unmaps blocks that
#: large afresh, and every page faults; PERF-NOTES.md).
BAND_ROWS = 16


def luminance(rgb: torch.Tensor) -> torch.Tensor:
    """[..., 3] → [..., 1]."""
    weights = torch.tensor(LUMA, dtype=rgb.dtype, device=rgb.device)
    return (rgb * weights).sum(dim=-1, keepdim=True)


def box_mean(x: torch.Tensor, radius: int) -> torch.Tensor:
    """Mean over a (2r+1)² window, edges replicated; x: [1, C, H, W]."""
    r = radius
    return F.avg_pool2d(F.pad(x, (r, r, r, r), mode="replicate"), 2 * r + 1, stride=1)


def guided_gain(guide: torch.Tensor, result: torch.Tensor) -> torch.Tensor:
    """Per-channel local gain of `result` ([h, w, 3]) on `guide` ([h, w, 1]): [h, w, 3]."""
    g = guide.permute(2, 0, 1)[None]
    p = result.permute(2, 0, 1)[None]
    r = min(GAIN_RADIUS, max(0, min(g.shape[2], g.shape[3]) - 1))  # replicate padding needs r < side
    mean_g, mean_p = box_mean(g, r), box_mean(p, r)
    cov = box_mean(g * p, r) - mean_g * mean_p
    var = box_mean(g * g, r) - mean_g * mean_g
    gain = box_mean((cov / (var + GAIN_EPS)).clamp(*GAIN_RANGE), r)
    return gain[0].permute(1, 2, 0)


class CubicAxis:
    """Cubic resampling along one axis from `small` to `large` samples (pixel centres aligned,
    as `align_corners=False`): for output i, 4 source indices (edges clamped) and weights."""

    def __init__(self, small: int, large: int) -> None:
        pos = (torch.arange(large, dtype=torch.float64) + 0.5) * (small / large) - 0.5
        base = torch.floor(pos)
        t = (pos - base).unsqueeze(1)
        offsets = torch.arange(-1, 3, dtype=torch.float64)
        d = (t - offsets).abs()  # distance to each of the 4 taps
        a = CUBIC
        near = ((a + 2) * d - (a + 3)) * d * d + 1
        far = ((a * d - 5 * a) * d + 8 * a) * d - 4 * a
        self.size = small
        self.weights = torch.where(d <= 1, near, far).float()  # [large, 4]
        self.index = (base.long().unsqueeze(1) + offsets.long()).clamp(0, small - 1)  # [large, 4]

    def rows(self, start: int, stop: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.index[start:stop], self.weights[start:stop]

    def round_trip(self) -> torch.Tensor:
        """[small, small]: this enlargement followed by an antialiased bicubic reduction back (how a
        viewer shows the picture at the small size), as a matrix on the small axis."""
        large, small = self.index.shape[0], self.size
        enlarge = torch.zeros(large, small)
        enlarge.scatter_add_(1, self.index, self.weights)
        if large == small:
            return enlarge
        reduced = F.interpolate(enlarge[None, None], size=(small, small), mode="bicubic", antialias=True)
        return reduced[0, 0]


def _along(
    x: torch.Tensor, axis: CubicAxis, start: int, stop: int, dim: int, out: torch.Tensor, tap: torch.Tensor
) -> None:
    """Outputs start..stop of resampling `x` along `dim` (0: rows, 1: columns) of [h, w, C], into
    `out`; `tap` is scratch of the same shape. Nothing is allocated (see `BAND_ROWS`)."""
    index, weights = axis.rows(start, stop)
    shape = [1, 1, 1]
    shape[dim] = stop - start
    torch.index_select(x, dim, index[:, 0], out=out)
    out.mul_(weights[:, 0].view(shape))
    for k in range(1, 4):
        torch.index_select(x, dim, index[:, k], out=tap)
        out.addcmul_(tap, weights[:, k].view(shape))


def consistent(small: torch.Tensor, rows: torch.Tensor, columns: torch.Tensor) -> torch.Tensor:
    """The working-size result, corrected so that its enlargement, reduced again, is the result.

    Enlarging and reducing again is a blur: the mosaic's dark joints came back soft, and the
    picture seen at 1024 px measured 0.139 from the 1024-px result (Gram) instead of 0.046 with
    this one step of back-projection (Irani & Peleg 1991), `s + (s − reduce(enlarge(s)))`, and it
    is sharper at 100 % too (2.0× → 2.7× bicubic's gradient energy). The round trip is linear and
    separable, so it is computed at the small size: `rows @ s @ columnsᵀ` for each channel."""
    trip = torch.einsum("ij,jkc,lk->ilc", rows, small, columns)
    return small * 2 - trip


def restore(
    photo: np.ndarray,
    photo_small: np.ndarray,
    result_small: np.ndarray,
    out: np.ndarray | None = None,
    rows: int = BAND_ROWS,
    on_band: Callable[[float], None] | None = None,
) -> np.ndarray:
    """The working-size `result_small` at the size of `photo`, with the photo's detail.

    `photo`: HxWx3 float32 0..1; `photo_small`: the photo reduced to the working size (what the
    network was given); `result_small`: the network's result for it. Writes into `out`
    (HxWx3 float32; allocated when None) a band of `rows` rows at a time and returns it.
    `on_band(fraction done)` is called after each band (progress; it may raise to cancel)."""
    height, width = photo.shape[:2]
    h, w = result_small.shape[:2]
    if out is None:
        out = np.empty((height, width, 3), np.float32)
    with torch.inference_mode():
        small = torch.from_numpy(np.ascontiguousarray(result_small, np.float32))
        guide = luminance(torch.from_numpy(np.ascontiguousarray(photo_small, np.float32)))
        across, down = CubicAxis(w, width), CubicAxis(h, height)
        base = consistent(small, down.round_trip(), across.round_trip())
        stack = torch.cat([base, guided_gain(guide, small), guide], dim=2)  # [h, w, 7]
        wide = torch.empty(h, width, 7)
        scratch = torch.empty(max(rows, BAND_ROWS) * width * 7)  # one buffer serves both passes
        for y in range(0, h, BAND_ROWS):
            part = wide[y : y + BAND_ROWS]
            _along(stack[y : y + BAND_ROWS], across, 0, width, 1, part, scratch[: part.numel()].view(part.shape))
        del stack
        band_buf, lost_buf = torch.empty(rows, width, 7), torch.empty(rows, width, 1)
        target = torch.from_numpy(out)
        for y0 in range(0, height, rows):
            y1 = min(height, y0 + rows)
            band, lost = band_buf[: y1 - y0], lost_buf[: y1 - y0]
            _along(wide, down, y0, y1, 0, band, scratch[: band.numel()].view(band.shape))
            base, gain, low = band[..., :3], band[..., 3:6], band[..., 6:]
            rgb = torch.from_numpy(photo[y0:y1])
            lost.copy_(rgb[..., :1]).mul_(LUMA[0])  # elementwise, so any band height gives the same bits
            lost.add_(rgb[..., 1:2], alpha=LUMA[1]).add_(rgb[..., 2:], alpha=LUMA[2])
            lost.sub_(low)  # the photo's band above the working size
            target[y0:y1].copy_(base.addcmul_(gain, lost).clamp_(0.0, 1.0))
            if on_band is not None:
                on_band(y1 / height)
    return out
