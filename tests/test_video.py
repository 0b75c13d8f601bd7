"""Video files through the `painterly` command, end to end: real MP4, WebM and Matroska files made
with PyAV (FFmpeg), stylized in a real subprocess, read back as a player would."""

from __future__ import annotations

import hashlib
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bench.quality import panned

from .conftest import CONTENT, run_cli, save_for_review
from .video_files import make_video, probe

pytest.importorskip("av", reason="video needs PyAV: pip install -e '.[dev]' (or '.[video]')")

FAST = ("--brush-size", "native")  # the network at the frames' own size: these tests are about the files


@pytest.fixture(scope="module")
def pan_frames() -> list[np.ndarray]:
    from painterly.imageio import load_image

    photo = load_image(CONTENT / "kodim05.png").pixels.astype(np.float32) / 255.0
    return [np.clip(np.rint(f * 255), 0, 255).astype(np.uint8) for f in panned(photo, 16, 3, (240, 320))]


@pytest.fixture(scope="module")
def clip(tmp_path_factory, pan_frames) -> Path:
    return make_video(tmp_path_factory.mktemp("clip") / "clip.mp4", pan_frames)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def others(folder: Path, *keep: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p not in keep)


def test_a_video_keeps_its_frames_timing_and_audio(clip, tmp_path) -> None:
    before = digest(clip)
    out = tmp_path / "styled.mp4"
    r = run_cli("stylize", str(clip), "-o", str(out), "--style", "candy", *FAST)
    assert r.returncode == 0, r.stderr
    assert "16.0/16 frames" in r.stderr  # the progress bar counts frames
    src, got = probe(clip), probe(out)
    assert len(got["frames"]) == len(src["frames"]) == 16
    assert got["rate"] == src["rate"] == 24
    np.testing.assert_allclose(got["times"], src["times"], atol=1e-3)
    assert got["audio"] == "aac"  # copied as it is
    assert got["audio_span"] == pytest.approx(src["audio_span"], abs=0.03)
    assert got["frames"][0].shape == (240, 320, 3)
    save_for_review("video_candy_frame8.png", got["frames"][8])
    for a, b in zip(got["frames"], src["frames"], strict=True):
        assert np.abs(a.astype(int) - b).mean() > 20  # stylized, every frame
    assert digest(clip) == before
    assert out.stat().st_mode & 0o777 == 0o644  # the umask's mode (022 in the tests)
    assert others(tmp_path) == ["styled.mp4"]


def test_a_part_of_a_video_into_webm(clip, tmp_path) -> None:
    """--start/--end keep the frames and the audio in the range, from time 0; WebM cannot hold AAC,
    so the audio is re-encoded to its own codec (Opus)."""
    out = tmp_path / "part.webm"
    r = run_cli("stylize", str(clip), "-o", str(out), "--style", "mosaic", "--start", "0.25", "--end", "0:00.5", *FAST)
    assert r.returncode == 0, r.stderr
    got = probe(out)
    assert len(got["frames"]) == 6  # 6/24 … 11/24 s
    assert got["times"][0] == pytest.approx(0.0, abs=0.002)
    assert got["times"][-1] == pytest.approx(5 / 24, abs=0.002)
    assert got["audio"] == "opus"
    start, end = got["audio_span"]
    assert start <= 0.03 and 0.15 <= end <= 0.3


def test_several_videos_and_images_in_one_run(clip, tmp_path, pan_frames) -> None:
    from PIL import Image

    still = tmp_path / "still.png"
    Image.fromarray(pan_frames[0]).save(still)
    other = make_video(tmp_path / "other.mkv", pan_frames[:4], fmt="matroska", audio=None)
    out = tmp_path / "out"
    r = run_cli("stylize", str(clip), str(still), str(other), "-o", f"{out}/", "--style", "udnie", *FAST, "--quiet")
    assert r.returncode == 0, r.stderr
    assert others(out) == ["clip.mp4", "other.mkv", "still.png"]
    assert len(probe(out / "other.mkv")["frames"]) == 4 and probe(out / "other.mkv")["audio"] is None


def test_the_frames_of_a_clip_as_images(tmp_path, pan_frames, stylizer) -> None:
    """--sequence: the inputs in the order given are one clip; the results are the library's."""
    from PIL import Image

    frames = tmp_path / "frames"
    frames.mkdir()
    names = [frames / f"f{i:03d}.png" for i in range(5)]
    for name, rgb in zip(names, pan_frames[:5], strict=True):
        Image.fromarray(rgb).save(name)
    out = tmp_path / "out"
    r = run_cli("stylize", *map(str, names), "-o", str(out), "--sequence", "--style", "candy", *FAST, "--quiet")
    assert r.returncode == 0, r.stderr
    want = list(stylizer.stylize_sequence(pan_frames[:5], style="candy", brush_size="native"))
    for name, expected in zip(names, want, strict=True):
        got = np.asarray(Image.open(out / name.name))
        assert np.abs(got.astype(int) - expected).max() <= 1


def bad_cases(tmp: Path, clip: Path, frames: list[np.ndarray]) -> dict[str, tuple[list[str], str]]:
    """name: (the command's arguments, what its one-line error says)."""
    from PIL import Image

    corrupt = tmp / "corrupt.mp4"
    corrupt.write_bytes(np.random.default_rng(1).bytes(20000))
    full = make_video(tmp / "full.mkv", frames, fmt="matroska")
    cut = tmp / "cut.mkv"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    cut_mp4 = tmp / "cut.mp4"
    cut_mp4.write_bytes(clip.read_bytes()[:-4000])
    sound = tmp / "sound.mp4"
    _audio_only(sound)
    a, b = tmp / "a.png", tmp / "b.png"
    Image.fromarray(frames[0]).save(a)
    Image.fromarray(frames[1][:, :-2]).save(b)
    blocker = tmp / "blocker"
    blocker.write_text("a file where a folder should be")
    out = str(tmp / "out.mp4")
    return {
        "corrupt": ([str(corrupt), "-o", out], "cannot read it as a video"),
        "truncated": ([str(cut), "-o", out], "is truncated or damaged"),
        "truncated mp4": ([str(cut_mp4), "-o", out], "cannot read it as a video"),
        "no video stream": ([str(sound), "-o", out], "has no video stream"),
        "frames of two sizes": ([str(a), str(b), "-o", str(tmp / "seq"), "--sequence"], "must all be the same size"),
        "start without a video": ([str(a), "-o", str(tmp / "a-out.png"), "--start", "1"], "no input is a video"),
        "sequence of a video": ([str(clip), "-o", out, "--sequence"], "a video is a clip already"),
        "an image for a video": ([str(clip), "-o", str(tmp / "out.png")], "the result of a video is a video too"),
        "start past the end": ([str(clip), "-o", out, "--start", "5"], "past the end"),
        "end before start": ([str(clip), "-o", out, "--start", "0.5", "--end", "0.2"], "must come after --start"),
        "bad time": ([str(clip), "-o", out, "--start", "soon"], "a time must be seconds"),
        "unwritable": ([str(clip), "-o", str(blocker / "out.mp4")], "is a file, not a folder"),
        "bad stability": ([str(clip), "-o", out, "--stability", "2"], "stability must be a number from 0"),
    }


def _audio_only(path: Path) -> None:
    import av

    with av.open(str(path), "w") as out:
        sound = out.add_stream("aac", rate=48000)
        for i in range(10):
            samples = av.AudioFrame.from_ndarray(np.zeros((2, 1024), np.float32), format="fltp", layout="stereo")
            samples.sample_rate, samples.pts = 48000, i * 1024
            out.mux(sound.encode(samples))
        out.mux(sound.encode())


@pytest.fixture(scope="module")
def bad(tmp_path_factory, clip, pan_frames) -> tuple[Path, dict]:
    tmp = tmp_path_factory.mktemp("bad")
    return tmp, bad_cases(tmp, clip, pan_frames)


@pytest.mark.parametrize(
    "case",
    [
        "corrupt",
        "truncated",
        "truncated mp4",
        "no video stream",
        "frames of two sizes",
        "start without a video",
        "sequence of a video",
        "an image for a video",
        "start past the end",
        "end before start",
        "bad time",
        "unwritable",
        "bad stability",
    ],
)
def test_bad_input_gets_one_line_and_changes_nothing(bad, case, clip) -> None:
    tmp, cases = bad
    args, message = cases[case]
    before = {p.name: digest(p) for p in tmp.iterdir() if p.is_file()}
    clip_before = digest(clip)
    r = run_cli("stylize", *args, "--style", "candy", *FAST, "--quiet")
    assert r.returncode in (1, 2), r.stderr  # 2: argparse's own refusals (a bad time)
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 or r.returncode == 2, r.stderr
    assert message in r.stderr, r.stderr
    assert {p.name: digest(p) for p in tmp.iterdir() if p.is_file()} == before  # no output, no temporary file
    assert not (tmp / "seq").exists()
    assert digest(clip) == clip_before


def test_a_stopped_video_leaves_nothing(tmp_path, pan_frames) -> None:
    longer = make_video(tmp_path / "long.mp4", pan_frames * 3)
    out = tmp_path / "out"
    out.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-m", "painterly.cli", "stylize", str(longer), "-o", str(out / "styled.mp4"), *FAST],
        stderr=subprocess.PIPE,
        text=True,
    )
    seen = ""
    while "3.0/48 frames" not in seen:  # frames are being written into the temporary file
        seen += proc.stderr.read(1)
        assert proc.poll() is None, seen
    proc.send_signal(signal.SIGTERM)
    rest = proc.communicate(timeout=120)[1]
    assert proc.returncode == 128 + signal.SIGTERM, rest
    assert "nothing was written for the unfinished image or video" in rest
    assert list(out.iterdir()) == []
