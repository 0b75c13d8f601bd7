"""The contact sheet (`painterly sheet`): every tile is the engine's own result for the photo at the
tile's size, each labelled, laid out as `sheet.layout` says; the command refuses what it cannot do
before it writes anything."""

from __future__ import annotations

import numpy as np
import pytest
from painterly import catalog, sheet
from painterly.errors import PainterlyError
from PIL import Image

from .conftest import CONTENT, load_rgb, run_cli, save_for_review

CHOSEN = ["candy", "the_scream", "blue_swirls", "terracotta"]  # a network, a painting, two looks


def test_each_tile_is_the_engine_s_result_and_is_labelled(stylizer):
    photo = load_rgb("kodim15.png")  # 768×512: tiles 96×64
    labels = [(name, catalog.preset(name).display_name) for name in CHOSEN]
    made = sheet.make_sheet(stylizer, photo, labels, tile_side=96)
    grid = sheet.layout(len(CHOSEN) + 1, photo.shape[:2], 96)  # the photo first
    assert made.shape == (*grid.size, 3) and made.dtype == np.uint8
    assert grid.tile == (64, 96)
    small = sheet.miniature(photo, grid.tile)
    th, tw = grid.tile
    tiles = []
    for i, name in enumerate(["", *CHOSEN]):
        y, x = grid.origin(i)
        tile = made[y : y + th, x : x + tw]
        want = stylizer.stylize(small, style=name) if name else small
        assert np.array_equal(tile, sheet.to_uint8(want)), name or "the photo"
        if name:
            assert np.abs(tile.astype(int) - sheet.to_uint8(small)).mean() > 8, f"{name}: not stylized"
        label = made[y + th : y + th + grid.label_height, x : x + tw]
        ink = (label.max(axis=2) < 128).mean()
        assert 0.01 < ink < 0.5, f"{name}: its label is not there (ink {ink:.3f})"
        tiles.append(tile)
    assert all(np.abs(a.astype(int) - b).mean() > 5 for i, a in enumerate(tiles) for b in tiles[:i])
    gap = made[: sheet.GAP, :]  # around and between the tiles: the background only
    assert (gap == sheet.BACKGROUND).all()
    save_for_review("sheet.png", made)


def test_layout_keeps_the_sheet_near_4_to_3():
    for count, size in ((38, (512, 768)), (38, (768, 512)), (5, (400, 1000)), (1, (300, 300))):
        grid = sheet.layout(count, size, 256)
        assert grid.columns * grid.rows >= count > (grid.rows - 1) * grid.columns
        h, w = grid.size
        assert count < 4 or 0.9 < w / h < 2.2, (count, size, grid)
        assert max(grid.tile) == 256
    with pytest.raises(PainterlyError, match="from 64 to 1024"):
        sheet.check_tile_size(32)


def test_the_command_writes_the_sheet_and_refuses_before_writing(tmp_path):
    photo = CONTENT / "kodim07.png"
    out = tmp_path / "sheet.png"
    args = ["sheet", str(photo), "-o", str(out), "--size", "64", "--quiet"]
    styles = [a for name in CHOSEN[:2] for a in ("--style", name)]
    done = run_cli(*args, *styles)
    assert done.returncode == 0, done.stderr
    with Image.open(out) as im:
        assert im.mode == "RGB" and im.size[::-1] == sheet.layout(3, (512, 768), 64).size
    before = out.read_bytes()
    again = run_cli(*args, *styles)  # an existing output is not replaced without --overwrite
    assert again.returncode == 1 and "exists" in again.stderr and len(again.stderr.strip().splitlines()) == 1
    assert out.read_bytes() == before
    for bad, message in (
        (["--size", "20"], "tile size"),
        (["--style", "no_such_style"], "unknown style 'no_such_style'"),
    ):
        fresh = tmp_path / "other.png"
        refused = run_cli("sheet", str(photo), "-o", str(fresh), "--quiet", *styles, *bad)
        assert refused.returncode == 1 and message in refused.stderr, refused.stderr
        assert not fresh.exists()
    onto_input = run_cli("sheet", str(out), "-o", str(out), "--overwrite", "--quiet", *styles)
    assert onto_input.returncode == 1 and out.read_bytes() == before, "the photo itself is never replaced"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sheet.png"], "nothing left behind"
