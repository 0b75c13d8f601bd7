"""The command line never destroys or silently loses a user's file, and says plainly
what the operating system refused: real subprocesses on real files, hostile layouts."""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from .conftest import CONTENT, run_cli

PHOTO = CONTENT / "kodim08.png"
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def run(
    *args: str, env: dict | None = None, umask: int | None = None, timeout: float = 300
) -> subprocess.CompletedProcess:
    def prepare() -> None:
        if umask is not None:
            os.umask(umask)

    return run_cli(*args, env=env, timeout=timeout, preexec_fn=prepare)


def one_error_line(r: subprocess.CompletedProcess) -> str:
    """The error is one line, the last, with no traceback (progress and notes may come before it)."""
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert r.returncode == 1, r.stderr
    errors = [line for line in lines if line.startswith("painterly: error:")]
    assert len(errors) == 1 and lines[-1] == errors[0] and "Traceback" not in r.stderr, r.stderr
    return errors[0]


def hidden_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob(".*"))


@pytest.fixture(scope="module")
def photo(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("photo") / "photo.png"
    Image.open(PHOTO).resize((96, 64)).save(path)
    return path


# -- no output replaces an input ------------------------------------------------------


@pytest.mark.parametrize("how", ["same", "symlink", "hardlink", "dotdot", "folder"])
def test_an_output_that_is_the_input_is_refused(tmp_path, photo, how) -> None:
    src = tmp_path / "x.png"
    shutil.copy(photo, src)
    (tmp_path / "sub").mkdir()
    out = {
        "same": src,
        "symlink": tmp_path / "link.png",
        "hardlink": tmp_path / "hard.png",
        "dotdot": tmp_path / "sub" / ".." / "x.png",
        "folder": tmp_path,
    }[how]
    if how == "symlink":
        out.symlink_to(src)
    elif how == "hardlink":
        os.link(src, out)
    before = src.read_bytes()
    for extra in ([], ["--overwrite"]):
        line = one_error_line(run("stylize", str(src), "-o", str(out), "--quiet", *extra))
        assert "is the input" in line and "choose another output name" in line
        assert src.read_bytes() == before


def test_an_output_that_is_the_style_image_is_refused(tmp_path, photo) -> None:
    style = tmp_path / "style.png"
    Image.open(PHOTO).resize((64, 64)).save(style)
    before = style.read_bytes()
    line = one_error_line(
        run("stylize", str(photo), "-o", str(style), "--style-image", str(style), "--overwrite", "--quiet")
    )
    assert f"is the input {style}" in line and style.read_bytes() == before


def test_a_batch_into_its_own_folder_changes_nothing(tmp_path, photo) -> None:
    for name in ("a.png", "b.png"):
        shutil.copy(photo, tmp_path / name)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    line = one_error_line(
        run("stylize", str(tmp_path / "a.png"), str(tmp_path / "b.png"), "-o", str(tmp_path), "--overwrite", "--quiet")
    )
    assert "would replace the input" in line and "(and 1 more)" in line
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_same_named_inputs_get_their_own_outputs(tmp_path, photo) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    shutil.copy(photo, tmp_path / "a" / "x.png")
    Image.open(photo).transpose(Image.FLIP_LEFT_RIGHT).save(tmp_path / "b" / "X.PNG")  # same name, other case
    out = tmp_path / "out"
    r = run(
        "stylize",
        str(tmp_path / "a" / "x.png"),
        str(tmp_path / "b" / "X.PNG"),
        "-o",
        str(out),
        "--style",
        "mosaic",
        "--quiet",
    )
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in out.iterdir()) == ["X-2.PNG", "x.png"]
    assert f"its result is saved as {out / 'X-2.PNG'}" in r.stderr
    first, second = (np.asarray(Image.open(out / n)) for n in ("x.png", "X-2.PNG"))
    assert first.shape == second.shape == (64, 96, 3) and not np.array_equal(first, second)


def test_an_existing_output_is_replaced_only_with_overwrite(tmp_path, photo) -> None:
    out = tmp_path / "out.png"
    out.write_bytes(b"the user's own file")
    line = one_error_line(run("stylize", str(photo), "-o", str(out), "--quiet"))
    assert "exists already: use --overwrite" in line and out.read_bytes() == b"the user's own file"
    r = run("stylize", str(photo), "-o", str(out), "--quiet", "--overwrite")
    assert r.returncode == 0, r.stderr
    assert Image.open(out).size == (96, 64)


def test_unwritable_extensions_in_a_batch_become_png(tmp_path, photo) -> None:
    Image.open(photo).save(tmp_path / "anim.gif")
    r = run("stylize", str(tmp_path / "anim.gif"), str(photo), "-o", str(tmp_path / "out"), "--quiet")
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["anim.png", "photo.png"]
    assert "saved as .png" in r.stderr


# -- modes, temporary names, interruptions --------------------------------------------------


@pytest.mark.parametrize("mask", [0o022, 0o002, 0o077])
def test_outputs_and_models_get_the_umask_mode(tmp_path, photo, mask) -> None:
    home = tmp_path / "home"
    out = tmp_path / "out.png"
    r = run(
        "stylize",
        str(photo),
        "-o",
        str(out),
        "--style",
        "pointilism",
        "--quiet",
        umask=mask,
        env={"PAINTERLY_HOME": str(home)},
    )
    assert r.returncode == 0, r.stderr
    expected = 0o666 & ~mask
    for path in [out, home / "models" / "pointilism.safetensors", home / "models" / "pointilism.sha256"]:
        assert stat.S_IMODE(path.stat().st_mode) == expected, path
    assert hidden_files(home) == [] and hidden_files(tmp_path) == []


def test_a_long_output_name_works(tmp_path, photo) -> None:
    out = tmp_path / ("x" * 250 + ".png")  # 254 bytes: the limit is 255, so a temp name must be shorter
    r = run("stylize", str(photo), "-o", str(out), "--quiet")
    assert r.returncode == 0, r.stderr
    assert out.is_file() and hidden_files(tmp_path) == []


WRITER = """
import sys, time
from painterly_common.files import terminate_cleanly, write_atomic, Terminated
def slow(f):
    f.write(b"partial")
    f.flush()
    print("writing", flush=True)
    time.sleep(60)
try:
    with terminate_cleanly():
        write_atomic(sys.argv[1], slow)
except Terminated as exc:
    sys.exit(exc.code)
"""


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_signal_during_a_write_leaves_nothing(tmp_path, signum) -> None:
    target = tmp_path / "out.png"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(target)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "writing"
    assert len(hidden_files(tmp_path)) == 1  # the temporary file, while it is written
    proc.send_signal(signum)
    proc.wait(timeout=30)
    assert proc.returncode != 0
    assert list(tmp_path.iterdir()) == []


def test_the_command_stops_cleanly_on_sigterm(tmp_path) -> None:
    big = tmp_path / "big.png"
    Image.open(PHOTO).resize((1536, 1024)).save(big)
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "painterly.cli", "stylize", str(big), str(PHOTO), "-o", str(out), "--precision", "full"],
        stderr=subprocess.PIPE,
        text=True,
    )
    seen = ""
    while "big.png:" not in seen:  # the progress bar of the first image has started
        seen += proc.stderr.read(1)
        assert proc.poll() is None, seen
    proc.send_signal(signal.SIGTERM)
    rest = proc.communicate(timeout=120)[1]
    assert proc.returncode == 128 + signal.SIGTERM
    assert "stopped by signal 15; nothing was written" in rest
    assert not out.exists() or list(out.iterdir()) == []


def test_a_signal_while_the_last_output_is_written_behind_lets_it_finish(tmp_path) -> None:
    """The command writes an output while it stylizes the next input (painterly.io_overlap): a
    signal then stops the run after that write, which is complete; nothing else is left."""
    first, second = tmp_path / "first.png", tmp_path / "second.png"
    Image.open(PHOTO).resize((3072, 2048)).save(first)  # a write long enough to be under way
    Image.open(PHOTO).resize((1536, 1024)).save(second)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "painterly.cli", "stylize", str(first), str(second), "-o", str(out)]
    proc = subprocess.Popen([*cmd, "--brush-size", "400"], stderr=subprocess.PIPE, text=True)
    seen = ""
    while "second.png:" not in seen:  # the second image's progress bar: the first is being written
        seen += proc.stderr.read(1)
        assert proc.poll() is None, seen
    proc.send_signal(signal.SIGTERM)
    rest = proc.communicate(timeout=120)[1]
    assert proc.returncode == 128 + signal.SIGTERM, rest
    assert sorted(p.name for p in out.iterdir()) == ["first.png"]  # no temporary file, no second output
    with Image.open(out / "first.png") as im:
        im.load()  # complete: a cut-off PNG fails here
        assert im.size == (3072, 2048)


def test_leftovers_of_killed_installs_are_removed(tmp_path, photo) -> None:
    home = tmp_path / "home"
    models = home / "models"
    models.mkdir(parents=True)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = models / f".painterly-{dead.pid}-abcdef.tmp"
    live = models / f".painterly-{os.getpid()}-abcdef.tmp"  # this process still runs: kept
    legacy = models / ".udnie-x1y2.part"
    for p in (stale, live, legacy):
        p.write_bytes(b"half a model")
    old = time.time() - 7200
    os.utime(legacy, (old, old))
    r = run("models", "install", "udnie", env={"PAINTERLY_HOME": str(home)})
    assert r.returncode == 0, r.stderr
    assert hidden_files(home) == [live.name]


# -- what the operating system refuses ------------------------------------------------------


def unprivileged(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """The command without root's power to ignore file permissions (tests run as root in CI),
    so that a mode of 000 or 555 means to it what it means to a user."""
    if not IS_ROOT:
        return run(*args, env=env)
    if shutil.which("setpriv") is None:
        pytest.skip("needs setpriv to drop root's file-permission override")
    return subprocess.run(
        ["setpriv", "--bounding-set=-dac_override,-dac_read_search", sys.executable, "-m", "painterly.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=300,
    )


def test_an_unreadable_input_is_one_line(tmp_path, photo) -> None:
    secret = tmp_path / "secret.png"
    shutil.copy(photo, secret)
    secret.chmod(0)
    out = tmp_path / "out.png"
    line = one_error_line(unprivileged("stylize", str(secret), "-o", str(out)))
    assert line == f"painterly: error: cannot read {secret}: permission denied: check the file's permissions"
    style = one_error_line(unprivileged("stylize", str(photo), "-o", str(out), "--style-image", str(secret)))
    assert f"cannot read {secret}: permission denied" in style
    batch = unprivileged("stylize", str(secret), str(photo), "-o", str(tmp_path / "batch"), "--quiet")
    assert batch.returncode == 1 and f"1 of 2 inputs failed: {secret}" in batch.stderr
    assert not out.exists() and [p.name for p in (tmp_path / "batch").iterdir()] == ["photo.png"]


def test_a_read_only_output_folder_is_refused_before_any_work(tmp_path, photo) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    line = one_error_line(unprivileged("stylize", str(photo), "-o", str(locked / "out.png")))
    assert line == (
        f"painterly: error: cannot write into {locked}: permission denied or a read-only folder: "
        "choose another output folder"
    )
    assert list(locked.iterdir()) == []


def test_a_read_only_models_folder_is_one_line(tmp_path) -> None:
    models = tmp_path / "home" / "models"
    models.mkdir(parents=True)
    models.chmod(0o555)
    line = one_error_line(unprivileged("models", "install", "udnie", env={"PAINTERLY_HOME": str(models.parent)}))
    assert line == (
        f"painterly: error: udnie: cannot write into {models}: permission denied: check the "
        "permissions or choose another folder; or set PAINTERLY_HOME to a folder you can write"
    )


def test_an_output_below_a_file_is_refused(tmp_path, photo) -> None:
    (tmp_path / "notes.txt").write_text("a file")
    line = one_error_line(run("stylize", str(photo), "-o", str(tmp_path / "notes.txt" / "out.png"), "--quiet"))
    assert line == (
        f"painterly: error: cannot write into {tmp_path / 'notes.txt'}: it is a file, not a folder: "
        "choose another output path"
    )
    deeper = one_error_line(run("stylize", str(photo), "-o", str(tmp_path / "notes.txt" / "a" / "b.png")))
    assert f"{tmp_path / 'notes.txt'} is a file, not a folder" in deeper


@pytest.mark.parametrize("kind", ["file", "below_a_file"])
def test_a_painterly_home_that_is_not_a_folder_is_one_line(tmp_path, photo, kind) -> None:
    (tmp_path / "home").write_text("not a folder")
    home = tmp_path / "home" if kind == "file" else tmp_path / "home" / "deeper"
    line = one_error_line(
        run("stylize", str(photo), "-o", str(tmp_path / "o.png"), "--style", "udnie", env={"PAINTERLY_HOME": str(home)})
    )
    assert "create the models folder" in line and "set PAINTERLY_HOME to a folder you can write" in line


def _in_a_full_folder(script: str) -> subprocess.CompletedProcess:
    """Run `script` (bash) with a 256 KB tmpfs mounted at $FULL, in a private mount namespace."""
    if not IS_ROOT or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare to mount a small file system")
    probe = subprocess.run(["unshare", "--mount", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("mount namespaces are not available here")
    full = tempfile.mkdtemp(prefix="painterly-full-")
    wrapped = f'mount -t tmpfs -o size=256k tmpfs "{full}" && export FULL="{full}" && {script}'
    try:
        return subprocess.run(
            ["unshare", "--mount", "--propagation", "private", "bash", "-c", wrapped],
            capture_output=True,
            text=True,
            timeout=300,
            env=os.environ,
        )
    finally:
        os.rmdir(full)


def test_a_full_disk_is_one_line_and_the_batch_goes_on(tmp_path, photo) -> None:
    big = tmp_path / "big.png"
    Image.open(PHOTO).resize((768, 512)).save(big)  # its result does not fit in 256 KB; the small one does
    r = _in_a_full_folder(
        f'{sys.executable} -m painterly.cli stylize "{big}" "{photo}" -o "$FULL" --quiet; echo "rc=$?"; ls -A "$FULL"'
    )
    assert "rc=1" in r.stdout, r.stdout + r.stderr
    assert "/big.png: the disk is full: free some space or choose another folder" in r.stderr
    assert f"1 of 2 inputs failed: {big}" in r.stderr
    assert r.stdout.split("rc=1", 1)[1].split() == ["photo.png"]  # the other image, and no partial file
    assert "Traceback" not in r.stderr


def test_a_full_models_folder_is_one_line(tmp_path) -> None:
    r = _in_a_full_folder(
        f'PAINTERLY_HOME="$FULL" {sys.executable} -m painterly.cli models install udnie; '
        'echo "rc=$?"; ls -A "$FULL/models"'
    )
    assert "rc=1" in r.stdout and "the disk is full" in r.stderr, r.stdout + r.stderr
    assert r.stdout.split("rc=1", 1)[1].split() == []
    assert "Traceback" not in r.stderr


def test_folders_pipes_and_devices_are_named_for_what_they_are(tmp_path, photo) -> None:
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    cases = {
        str(tmp_path): "is a folder, not an image",
        str(fifo): "is a named pipe, not an image file",
        "/dev/null": "is a device, not an image file",
        str(tmp_path / "missing.png"): "no such file",
    }
    for src, expected in cases.items():
        line = one_error_line(run("stylize", src, "-o", str(tmp_path / "o.png"), timeout=60))
        assert expected in line, line
    r = run("stylize", str(fifo), str(photo), "-o", str(tmp_path / "out"), "--quiet", timeout=60)
    assert r.returncode == 1 and f"1 of 2 inputs failed: {fifo}" in r.stderr
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["photo.png"]


# -- arguments ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--tile", "1"], "the tile size must be 0 (automatic) or a whole number of pixels from 128 to 8192, got 1"),
        (["--tile", "-64"], "from 128 to 8192, got -64"),
        (
            ["--max-side", "0"],
            "max-side must be a whole number of at least 16 pixels (leave it out for no limit), got 0",
        ),
        (["--max-side", "-5"], "got -5"),
        (["--strength", "nan"], "strength must be from 0 to 1, got nan"),
        (["--style-size", "5000"], "style size must be from 64 to 1024 pixels, got 5000"),
    ],
)
def test_out_of_range_arguments_are_refused(tmp_path, photo, args, expected) -> None:
    style = ["--style", "starry_night"] if "--style-size" in args else []
    line = one_error_line(run("stylize", str(photo), "-o", str(tmp_path / "o.png"), *style, *args))
    assert expected in line
    assert not (tmp_path / "o.png").exists()


@pytest.mark.parametrize("value", ["-1", "0", "lots"])
def test_a_bad_pixel_limit_is_refused(tmp_path, photo, value) -> None:
    line = one_error_line(
        run("stylize", str(photo), "-o", str(tmp_path / "o.png"), env={"PAINTERLY_MAX_PIXELS": value})
    )
    assert (
        f"PAINTERLY_MAX_PIXELS must be a whole number of pixels above 0 (the default is 256000000), "
        f"got '{value}'" in line
    )


def test_a_full_temporary_folder_does_not_crash_the_tiler() -> None:
    # A stored feature map above the spill size lives in a mapped temporary file; on a full
    # folder its first write used to kill the process with SIGBUS.
    script = (
        "import torch; from painterly.tiling import allocate_map; "
        "t = allocate_map((1, 8, 1024, 1024), torch.float32, torch.device('cpu'), spill_bytes=1); "
        "t.fill_(1); print('sum', int(t.sum()))"
    )
    r = _in_a_full_folder(f'TMPDIR="$FULL" {sys.executable} -c "{script}"; echo "rc=$?"')
    assert "sum 8388608" in r.stdout and "rc=0" in r.stdout, r.stdout + r.stderr
    assert "cannot hold a 34 MB feature map" in r.stderr
