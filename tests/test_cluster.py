"""`painterly stylize --ray` and `painterly.cluster` on a real Ray cluster of two nodes on this
machine (`tests/ray_cluster.py`): the outputs are the local command's, a node killed mid-batch
loses nothing, an interrupted batch is resumed, and a clip's chunks join without seams."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from .conftest import CONTENT, load_rgb, psnr, run_cli
from .ray_cluster import LocalCluster

pytestmark = pytest.mark.slow

PHOTOS = ["kodim01.png", "kodim02.png", "kodim03.png", "kodim05.png", "kodim07.png", "kodim08.png"]
OPTIONS = ["--style", "candy", "--quiet"]  # the default brush: each photo is painted at 1024 pixels


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):
    c = LocalCluster(tmp_path_factory.mktemp("cluster"), nodes=2)
    try:
        yield c
    finally:
        c.stop()


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    folder = tmp_path_factory.mktemp("photos")
    paths = []
    for name in PHOTOS:
        p = folder / name
        Image.fromarray(load_rgb(name, (240, 160))).save(p)
        paths.append(str(p))
    return paths


@pytest.fixture(scope="module")
def local_results(photos: list[str], tmp_path_factory: pytest.TempPathFactory) -> dict[str, np.ndarray]:
    """What the command makes of the photos on this machine alone."""
    out = tmp_path_factory.mktemp("local")
    r = run_cli("stylize", *photos, "-o", f"{out}/", *OPTIONS)
    assert r.returncode == 0, r.stderr
    return {p.name: np.asarray(Image.open(p)) for p in out.iterdir()}


def assert_like_local(out: Path, local: dict[str, np.ndarray]) -> None:
    assert sorted(p.name for p in out.iterdir()) == sorted(local)  # every output, and no temporary file
    for name, want in local.items():
        got = np.asarray(Image.open(out / name))
        assert got.shape == want.shape
        assert psnr(got, want) >= 40, f"{name}: {psnr(got, want):.1f} dB from the local command's"
        assert np.abs(got.astype(float) - np.asarray(Image.open(CONTENT / name).resize(got.shape[1::-1]))).mean() > 20


def test_a_batch_on_two_nodes_is_the_local_commands(cluster, photos, local_results, tmp_path) -> None:
    out = tmp_path / "out"
    loud = [o for o in OPTIONS if o != "--quiet"]
    r = run_cli("stylize", *photos, "-o", f"{out}/", *loud, "--ray", cluster.address, env=cluster.env)
    assert r.returncode == 0, r.stderr
    assert f"images: {len(photos)}/{len(photos)}" in r.stderr  # the progress bar counts the whole batch
    assert "on a Ray cluster of 2 nodes, 2 images at a time (1 CPU each)" in r.stderr
    assert f"{len(photos)} done, 0 skipped (complete already), 0 failed" in r.stderr and "on 2 nodes" in r.stderr
    assert_like_local(out, local_results)
    for home in cluster.homes:  # each node installed (and verified) the model itself
        assert (home / "models" / "candy.safetensors").is_file() and (home / "models" / "candy.sha256").is_file()
    assert not list(Path(out).glob(".painterly-*"))


def test_every_option_works_on_the_cluster(cluster, photos, tmp_path) -> None:
    """A preset and a style image mixed, strength, preserve colour, brush size and Refine: the nodes
    get the style image as pixels (they need not see the caller's files) and make what this machine does."""
    style = next((CONTENT.parent / "styles").glob("*.jpg"))
    options = ["--style", "starry_night", "--style-image", str(style), "--weights", "0.6,0.4", "--strength", "0.8"]
    options += ["--preserve-color", "--brush-size", "150", "--refine-steps", "2", "--quiet"]
    here, there = tmp_path / "here", tmp_path / "there"
    local = run_cli("stylize", *photos[:2], "-o", f"{here}/", *options)
    assert local.returncode == 0, local.stderr
    remote = run_cli("stylize", *photos[:2], "-o", f"{there}/", *options, "--ray", cluster.address, env=cluster.env)
    assert remote.returncode == 0, remote.stderr
    assert "2 done, 0 skipped" in remote.stderr
    for p in sorted(here.iterdir()):
        want, got = np.asarray(Image.open(p)), np.asarray(Image.open(there / p.name))
        assert psnr(got, want) >= 40, f"{p.name}: {psnr(got, want):.1f} dB"


def test_a_bad_input_fails_alone_and_a_bad_address_changes_nothing(cluster, photos, tmp_path) -> None:
    broken = tmp_path / "broken.png"
    broken.write_bytes(Path(photos[0]).read_bytes()[:300])
    out = tmp_path / "out"
    r = run_cli("stylize", photos[0], str(broken), "-o", f"{out}/", *OPTIONS, "--ray", cluster.address, env=cluster.env)
    assert r.returncode == 1
    assert "broken.png" in r.stderr and "1 of 2 inputs failed" in r.stderr and "1 done, 0 skipped" in r.stderr
    assert sorted(p.name for p in out.iterdir()) == [Path(photos[0]).name]

    nowhere = run_cli("stylize", *photos, "-o", f"{tmp_path / 'none'}/", "--ray", f"127.0.0.1:{cluster.port + 1}")
    assert nowhere.returncode == 1 and nowhere.stderr.count("\n") == 1
    assert "cannot join the Ray cluster at 127.0.0.1:" in nowhere.stderr and not (tmp_path / "none").exists()

    without_token = {k: v for k, v in cluster.env.items() if k not in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN")}
    refused = subprocess.run(
        [
            sys.executable,
            "-m",
            "painterly.cli",
            "stylize",
            *photos,
            "-o",
            f"{tmp_path / 'none'}/",
            "--ray",
            cluster.address,
        ],
        capture_output=True,
        text=True,
        env=without_token,
        timeout=120,
    )
    last = refused.stderr.strip().splitlines()[-1]
    assert refused.returncode == 1 and last.startswith(f"painterly: error: cannot join {cluster.address}")
    assert "set RAY_AUTH_MODE=token" in last and not (tmp_path / "none").exists()


def _start(cluster: LocalCluster, photos: list[str], out: Path, *extra: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "painterly.cli", "stylize", *photos, "-o", f"{out}/", *OPTIONS]
    cmd += ["--ray", cluster.address, *extra]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cluster.env)


def _wait_for_outputs(out: Path, count: int, run: subprocess.Popen, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and run.poll() is None:
        if out.is_dir() and len([p for p in out.iterdir() if not p.name.startswith(".")]) >= count:
            return
        time.sleep(0.2)
    raise AssertionError(f"{count} outputs did not appear: {run.poll()}")


def test_ctrl_c_stops_the_clusters_tasks_and_resume_finishes_the_batch(
    cluster, photos, local_results, tmp_path
) -> None:
    out = tmp_path / "out"
    run = _start(cluster, photos, out)
    _wait_for_outputs(out, 2, run)
    run.send_signal(signal.SIGINT)
    _, stderr = run.communicate(timeout=60)
    assert run.returncode == 130, stderr
    assert "interrupted" in stderr
    written = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    assert 2 <= len(written) < len(photos) and not [n for n in written if n.startswith(".")]
    # the cluster's tasks were stopped: its CPUs are free again
    deadline = time.monotonic() + 30
    while cluster.free_cpus() < 2 and time.monotonic() < deadline:
        time.sleep(1)
    assert cluster.free_cpus() == 2

    resumed = run_cli(
        "stylize", *photos, "-o", f"{out}/", *OPTIONS, "--ray", cluster.address, "--resume", env=cluster.env
    )
    assert resumed.returncode == 0, resumed.stderr
    left = len(photos) - len(written)
    assert f"{left} done, {len(written)} skipped (complete already), 0 failed" in resumed.stderr
    assert all(out.joinpath(n).stat().st_mtime_ns == t for n, t in written.items())  # kept as they were
    assert_like_local(out, local_results)


def test_a_node_killed_mid_batch_loses_nothing(photos, local_results, tmp_path) -> None:
    """Its images are retried on the node that is left (Ray's retries), and every output is complete
    and correct."""
    c = LocalCluster(tmp_path / "cluster", nodes=2)
    try:
        out = tmp_path / "out"
        run = _start(c, photos, out)
        _wait_for_outputs(out, 1, run)  # both nodes are busy now, with more queued
        c.kill_node(1)
        _, stderr = run.communicate(timeout=300)
        assert run.returncode == 0, stderr
        assert f"{len(photos)} done, 0 skipped (complete already), 0 failed" in stderr
        assert_like_local(out, local_results)
        assert c.alive_nodes() == 1
    finally:
        c.stop()


def test_a_clip_on_the_cluster_joins_its_chunks_without_seams(cluster, stylizer, monkeypatch) -> None:
    """The library: a pan in chunks of 12 frames over both nodes is the clip the same chunks make on
    this machine, in order, and its seams flicker no more than the frames inside the chunks."""
    from painterly.cluster import Cluster, chunks
    from painterly.imageio import load_image

    from bench.quality import chunked_here, panned, seam_flicker

    photo = load_image(CONTENT / "kodim05.png").pixels.astype(np.float32) / 255.0
    frames = [np.clip(np.rint(f * 255), 0, 255).astype(np.uint8) for f in panned(photo, 30, 3, (192, 256))]
    options = {"style": "candy", "brush_size": "native"}
    overlap = chunks.lead_in(0.7)

    want = chunked_here(stylizer, frames, 12, overlap, **options)
    progress: list[int] = []
    for key, value in cluster.env.items():  # the cluster's token
        monkeypatch.setenv(key, value)
    with Cluster(cluster.address) as on_cluster:
        assert on_cluster.layout.slots == 2
        got = list(
            on_cluster.stylize_sequence(
                frames, on_progress=lambda n, f, s: progress.append(n), chunk_frames=12, **options
            )
        )
    assert len(got) == len(frames) and progress[-1] == len(frames)
    for i, (a, b) in enumerate(zip(got, want, strict=True)):
        assert psnr(a, b) >= 40, f"frame {i}: {psnr(a, b):.1f} dB"
    inside, at_seams, _ = seam_flicker(got, 3, 12, overlap)
    assert at_seams <= 1.1 * inside


def test_a_video_and_a_sequence_on_the_cluster(cluster, tmp_path) -> None:
    """A video file through --ray keeps every frame, its timing and its audio; frames given as PNG
    files (`--sequence`, lossless) are the local command's."""
    from bench.quality import panned

    from .video_files import make_video, probe

    photo = load_rgb("kodim05.png").astype(np.float32) / 255
    frames = [np.clip(np.rint(f * 255), 0, 255).astype(np.uint8) for f in panned(photo, 16, 3, (120, 160))]
    clip = make_video(tmp_path / "clip.mp4", frames)
    options = ["--style", "mosaic", "--brush-size", "native", "--quiet"]
    there = run_cli(
        "stylize", str(clip), "-o", str(tmp_path / "there.mp4"), *options, "--ray", cluster.address, env=cluster.env
    )
    assert there.returncode == 0, there.stderr
    src, got = probe(clip), probe(tmp_path / "there.mp4")
    assert len(got["frames"]) == len(frames) and got["rate"] == src["rate"]
    np.testing.assert_allclose(got["times"], src["times"], atol=1e-3)
    assert got["audio"] == "aac" and got["audio_span"] == pytest.approx(src["audio_span"], abs=0.03)
    for a, b in zip(got["frames"], src["frames"], strict=True):
        assert np.abs(a.astype(int) - b).mean() > 20  # stylized, every frame

    names = []
    for i, f in enumerate(frames):
        names.append(str(tmp_path / f"frame{i:02d}.png"))
        Image.fromarray(f).save(names[-1])
    here = run_cli("stylize", *names, "-o", f"{tmp_path / 'here'}/", "--sequence", *options)
    assert here.returncode == 0, here.stderr
    there = run_cli(
        "stylize",
        *names,
        "-o",
        f"{tmp_path / 'there'}/",
        "--sequence",
        *options,
        "--ray",
        cluster.address,
        env=cluster.env,
    )
    assert there.returncode == 0, there.stderr
    for name in names:
        want = np.asarray(Image.open(tmp_path / "here" / Path(name).name))
        got_frame = np.asarray(Image.open(tmp_path / "there" / Path(name).name))
        assert psnr(got_frame, want) >= 40, f"{name}: {psnr(got_frame, want):.1f} dB"


def _raylets() -> int:
    out = subprocess.run(["ps", "-eo", "stat=,args="], capture_output=True, text=True).stdout
    return sum(1 for line in out.splitlines() if not line.startswith("Z") and "/raylet/raylet " in line)


def test_no_address_starts_a_cluster_here_and_stops_it(photos, local_results, tmp_path) -> None:
    before = _raylets()
    out = tmp_path / "out"
    r = run_cli("stylize", *photos[:2], "-o", f"{out}/", *OPTIONS, "--ray")
    assert r.returncode == 0, r.stderr
    assert "on a Ray cluster of 1 node" in r.stderr and "2 done, 0 skipped" in r.stderr
    for name in (Path(p).name for p in photos[:2]):
        assert psnr(np.asarray(Image.open(out / name)), local_results[name]) >= 40
    deadline = time.monotonic() + 20
    while _raylets() > before and time.monotonic() < deadline:
        time.sleep(0.5)
    assert _raylets() == before  # the cluster it started is gone with it
