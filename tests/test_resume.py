"""`--resume`: a batch run again skips the outputs that are complete, and nothing else."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from painterly.imageio import is_complete, save_image
from PIL import Image

from .conftest import load_rgb, run_cli


@pytest.mark.parametrize("ext", [".png", ".jpg", ".webp", ".bmp", ".tif"])
def test_a_cut_short_file_is_not_complete(tmp_path: Path, ext: str) -> None:
    pixels = load_rgb("kodim05.png", (96, 64))
    whole = tmp_path / f"whole{ext}"
    save_image(whole, pixels)
    assert is_complete(whole, (64, 96))
    assert not is_complete(whole, (96, 64))  # another picture's size
    assert not is_complete(tmp_path / f"missing{ext}", (64, 96))
    data = whole.read_bytes()
    for keep in (len(data) - 1, len(data) * 2 // 3, 40):
        cut = tmp_path / f"cut{keep}{ext}"
        cut.write_bytes(data[:keep])
        assert not is_complete(cut, (64, 96)), f"{ext} cut to {keep} of {len(data)} bytes"


def _inputs(tmp_path: Path, count: int) -> list[str]:
    folder = tmp_path / "in"
    folder.mkdir()
    names = ["kodim01.png", "kodim05.png", "kodim03.png", "kodim07.png"][:count]
    paths = []
    for i, name in enumerate(names):
        p = folder / f"photo{i}.png"
        Image.fromarray(load_rgb(name, (128, 96))).save(p)
        paths.append(str(p))
    return paths


def test_resume_skips_complete_outputs_and_refuses_other_files(tmp_path: Path) -> None:
    inputs = _inputs(tmp_path, 3)
    out = tmp_path / "out"
    options = ["--style", "mosaic", "--brush-size", "native", "--quiet"]
    first = run_cli("stylize", *inputs, "-o", f"{out}/", *options)
    assert first.returncode == 0, first.stderr
    outputs = sorted(out.iterdir())
    reference = {p.name: np.asarray(Image.open(p)) for p in outputs}
    kept = out / "photo0.png"
    before = kept.stat()
    os.unlink(out / "photo1.png")
    (out / "photo2.png").write_bytes((out / "photo2.png").read_bytes()[:500])  # not ours: a cut copy

    refused = run_cli("stylize", *inputs, "-o", f"{out}/", *options, "--resume")
    assert refused.returncode == 1
    assert refused.stderr.count("\n") == 1 and "photo2.png exists but is not a complete result" in refused.stderr
    assert sorted(p.name for p in out.iterdir()) == ["photo0.png", "photo2.png"]  # nothing changed

    os.unlink(out / "photo2.png")
    resumed = run_cli("stylize", *inputs, "-o", f"{out}/", *options, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert "2 done, 1 skipped (complete already), 0 failed" in resumed.stderr
    after = kept.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)  # not written again
    for p in sorted(out.iterdir()):
        np.testing.assert_array_equal(np.asarray(Image.open(p)), reference[p.name])
    assert not [p for p in out.iterdir() if p.name.startswith(".painterly-")]

    again = run_cli("stylize", *inputs, "-o", f"{out}/", *options, "--resume")
    assert again.returncode == 0 and "0 done, 3 skipped" in again.stderr


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--overwrite"], "--resume keeps the outputs that are complete and --overwrite replaces them"),
        (["--sequence"], "a sequence is stylized whole"),
        (["--ray-cpus", "2"], "--ray-cpus is for a cluster"),
    ],
)
def test_resume_refusals(tmp_path: Path, extra: list[str], message: str) -> None:
    inputs = _inputs(tmp_path, 2)
    r = run_cli("stylize", *inputs, "-o", f"{tmp_path / 'out'}/", "--resume", *extra)
    assert r.returncode == 1 and message in r.stderr and r.stderr.count("\n") == 1, r.stderr
    assert not (tmp_path / "out").exists()
