"""The GPU paths: half precision, and running out of memory (smaller tiles, then the CPU).

The tile fallback is the same code on every device, so it is tested here on the CPU with the
out-of-memory raised on purpose; the CUDA tests run where a CUDA device is (a lent GPU machine)
and are skipped elsewhere.
"""

from __future__ import annotations

import pytest
import torch
from painterly import Stylizer, tiling
from painterly.errors import OutOfMemoryError
from painterly_common.options import MIN_TILE

from .conftest import load_rgb, psnr

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")


def _running_out_above(monkeypatch, tile: int, error: type[BaseException], on: str | None = None) -> list[int]:
    """TiledRun raises `error` for tiles larger than `tile` (on devices of type `on`; None: all), as
    an allocation that does not fit would; returns the tile sizes tried, in order."""
    real = tiling.TiledRun.__call__
    tried: list[int] = []

    def tight(self, image):
        tried.append(self.tile)
        if self.tile > tile and on in (None, self.device.type):
            raise error("out of memory (simulated)")
        return real(self, image)

    monkeypatch.setattr(tiling.TiledRun, "__call__", tight)
    return tried


def test_out_of_memory_halves_the_tile_says_so_and_gives_the_same_picture(monkeypatch, painterly_home):
    photo = load_rgb("kodim05.png", (512, 384))
    messages: list[str] = []
    st = Stylizer(device="cpu", precision="full", on_message=messages.append)
    want = st.stylize(photo, style="candy", tile=MIN_TILE)
    messages.clear()  # the model's install, on its first use
    tried = _running_out_above(monkeypatch, MIN_TILE, MemoryError)
    got = st.stylize(photo, style="candy", tile=4 * MIN_TILE)
    assert tried == [4 * MIN_TILE, 2 * MIN_TILE, MIN_TILE]
    assert messages == [
        f"out of memory on cpu: retrying with {2 * MIN_TILE}-pixel tiles",
        f"out of memory on cpu: retrying with {MIN_TILE}-pixel tiles",
    ]
    assert psnr(got, want) >= 50  # exact tiles: the same picture at any tile size


def test_out_of_memory_at_the_smallest_tile_on_the_cpu_is_one_clear_error(monkeypatch, painterly_home):
    photo = load_rgb("kodim05.png", (256, 256))
    st = Stylizer(device="cpu", on_message=lambda m: None)
    _running_out_above(monkeypatch, 0, MemoryError)
    with pytest.raises(OutOfMemoryError, match="not enough memory even for the smallest tiles"):
        st.stylize(photo, style="candy", tile=2 * MIN_TILE)


@cuda
def test_half_precision_on_cuda_matches_the_cpu(painterly_home, full_stylizer):
    photo = load_rgb("kodim05.png", (1024, 768))
    gpu = Stylizer(device="cuda")
    assert gpu.dtype == torch.float16
    assert psnr(gpu.stylize(photo, style="candy"), full_stylizer.stylize(photo, style="candy")) >= 40


@cuda
def test_cuda_out_of_memory_falls_back_to_smaller_tiles_then_the_cpu(monkeypatch, painterly_home, full_stylizer):
    photo = load_rgb("kodim05.png", (1024, 768))
    messages: list[str] = []
    gpu = Stylizer(device="cuda", on_message=messages.append)
    tried = _running_out_above(monkeypatch, 0, torch.OutOfMemoryError, on="cuda")  # every tile size
    got = gpu.stylize(photo, style="candy", tile=4 * MIN_TILE)
    assert tried[:3] == [4 * MIN_TILE, 2 * MIN_TILE, MIN_TILE], tried  # smaller tiles first, then the CPU
    assert messages[-1] == "out of memory on the GPU: continuing on the CPU", messages
    assert psnr(got, full_stylizer.stylize(photo, style="candy")) >= 40
