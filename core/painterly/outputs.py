"""Where the command line writes each result, decided before any pixel is computed.

Rules, so that no run can lose a picture:
- an output is never an input (a photo or a style image), whatever path leads to it:
  the same name, a symlink, a hard link or `..`;
- two outputs never share a file: same-named inputs from different folders get
  `name-2.png`, `name-3.png`… (always the same for the same command line, so a
  re-run with `--overwrite` replaces the same files), and the user is told;
- an existing file is replaced only with `--overwrite`;
- a path that cannot be written (its parent is a file, a read-only folder) is
  refused up front, not after minutes of work;
- a video's result is a video, an image's an image (`video.WRITABLE_VIDEO`, `imageio.WRITABLE`);
- `--resume` skips an input whose output is complete already (`imageio.is_complete`,
  `video.is_complete`): outputs are only ever renamed into place whole, so one there from an
  interrupted run is finished. Any other file at an output's name is refused as without it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .errors import PainterlyError
from .imageio import WRITABLE
from .video import WRITABLE_VIDEO, is_video

FALLBACK_EXTENSION = ".png"  # for batch inputs in formats that cannot be written (GIF, …)
FALLBACK_VIDEO_EXTENSION = ".mp4"  # for videos in containers that are read, not written (AVI, …)


def _writable(src: str) -> tuple[str, frozenset[str], str]:
    """What an input's result can be saved as: (what it is, the extensions, the fallback)."""
    if is_video(src):
        return "a video", frozenset(WRITABLE_VIDEO), FALLBACK_VIDEO_EXTENSION
    return "an image", frozenset(WRITABLE), FALLBACK_EXTENSION


@dataclass
class OutputPlan:
    pairs: list[tuple[str, Path]]  # (input, output) in the order given: the work to do
    notes: list[str] = field(default_factory=list)  # renamings the user should know about
    skipped: list[tuple[str, Path]] = field(default_factory=list)  # complete already (`resume`)


def plan_outputs(
    inputs: Sequence[str],
    output: str,
    protected: Sequence[str | os.PathLike[str]] = (),
    overwrite: bool = False,
    resume: bool = False,
) -> OutputPlan:
    """The output of each input, or a `PainterlyError` saying why the command cannot run as given.
    `resume`: inputs whose outputs are complete already go to `skipped`, not `pairs`."""
    if resume and overwrite:
        raise PainterlyError("--resume keeps the outputs that are complete and --overwrite replaces them: choose one")
    out = Path(output)
    folder_wanted = output.endswith(("/", os.sep)) or out.is_dir()
    notes: list[str] = []
    if len(inputs) == 1 and not folder_wanted:
        targets = [out]
        kind, writable, _ = _writable(inputs[0])
        ext, choices = out.suffix.lower(), ", ".join(sorted(writable))
        if ext not in writable and (ext in WRITABLE or ext in WRITABLE_VIDEO):  # the other kind's
            raise PainterlyError(f"{out}: the result of {kind} is {kind} too; use one of {choices}")
        if ext not in writable:
            raise PainterlyError(f"{out}: cannot write '{out.suffix or 'no extension'}' files; use one of {choices}")
    else:
        if out.exists() and not out.is_dir():
            raise PainterlyError(f"{out} is a file, but several inputs need an output folder")
        if out.suffix and not out.exists() and not folder_wanted:
            raise PainterlyError(f"{out}: several inputs need an output folder, not a file name")
        targets = _folder_targets(inputs, out, notes)
    _refuse_inputs(inputs, protected, targets)
    pairs: list[tuple[str, Path]] = []
    skipped: list[tuple[str, Path]] = []
    for pair in zip(inputs, targets, strict=True):
        (skipped if resume and _complete(*pair) else pairs).append(pair)
    if not overwrite:
        _refuse_existing([dst for _, dst in pairs], resume)
    for t in dict.fromkeys(t.parent for t in targets):
        _check_writable(t)
    return OutputPlan(pairs, notes, skipped)


def _complete(src: str, dst: Path) -> bool:
    if not os.path.lexists(dst):
        return False
    if is_video(src):
        from .video import is_complete as video_complete

        return video_complete(dst, src)
    from .imageio import image_size, is_complete

    try:
        size = image_size(src)
    except PainterlyError:
        return False  # the input fails later, in its own words
    return is_complete(dst, size)


def _folder_targets(inputs: Sequence[str], folder: Path, notes: list[str]) -> list[Path]:
    targets: list[Path] = []
    taken: dict[str, str] = {}  # case-folded file name -> the input that has it
    for src in inputs:
        name = Path(src).name
        stem, ext = Path(name).stem, Path(name).suffix
        _, writable, fallback = _writable(src)
        if ext.lower() not in writable:
            notes.append(f"{src}: '{ext or 'no extension'}' files cannot be written; the result is saved as {fallback}")
            ext = fallback
        candidate, n = f"{stem}{ext}", 1
        while candidate.casefold() in taken:  # case-folded: the same file on macOS and Windows
            n += 1
            candidate = f"{stem}-{n}{ext}"
        if n > 1:
            first = taken[f"{stem}{ext}".casefold()]
            notes.append(f"{src} has the same name as {first}: its result is saved as {folder / candidate}")
        taken[candidate.casefold()] = src
        targets.append(folder / candidate)
    return targets


def _identity(path: str | os.PathLike[str]) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return st.st_dev, st.st_ino


def _refuse_inputs(inputs: Sequence[str], protected: Sequence[str | os.PathLike[str]], targets: Sequence[Path]) -> None:
    """No output may be (through any path) one of the files the command reads."""
    sources = list(inputs) + list(protected)
    by_identity = {_identity(s): s for s in sources if _identity(s) is not None}
    by_path = {os.path.normcase(os.path.realpath(s)): s for s in sources}
    clashes = []
    for target in targets:
        source = by_identity.get(_identity(target)) if _identity(target) else None
        source = source or by_path.get(os.path.normcase(os.path.realpath(target)))
        if source is not None:
            clashes.append((target, source))
    if not clashes:
        return
    target, source = clashes[0]
    more = f" (and {len(clashes) - 1} more)" if len(clashes) > 1 else ""
    if len(targets) == 1:
        raise PainterlyError(
            f"the output {target} is the input {source} (the same file): choose another output "
            "name; an input is never replaced"
        )
    raise PainterlyError(
        f"the output {target} would replace the input {source}{more}: choose another output "
        "folder; an input is never replaced"
    )


def _refuse_existing(targets: Sequence[Path], resume: bool = False) -> None:
    existing = [t for t in targets if os.path.lexists(t)]
    if not existing:
        return
    if resume:
        raise PainterlyError(
            f"{existing[0]} exists but is not a complete result of its input"
            f"{f' (and {len(existing) - 1} more)' if len(existing) > 1 else ''}: "
            "move it away, or use --overwrite instead of --resume to replace every output"
        )
    if len(existing) == 1:
        raise PainterlyError(f"{existing[0]} exists already: use --overwrite to replace it, or choose another name")
    shown = ", ".join(str(t) for t in existing[:3]) + (", …" if len(existing) > 3 else "")
    raise PainterlyError(
        f"{len(existing)} outputs exist already ({shown}): use --overwrite to replace them, or choose another folder"
    )


def _check_writable(target: Path) -> None:
    """`target` is an output's folder (it may not exist yet): its nearest existing
    ancestor must be a folder we may write into."""
    if target.is_dir() and os.access(target, os.W_OK | os.X_OK):
        return
    if os.path.lexists(target) and not target.is_dir():
        raise PainterlyError(f"cannot write into {target}: it is a file, not a folder: choose another output path")
    ancestor = target
    while not os.path.lexists(ancestor) and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise PainterlyError(
            f"cannot write into {target}: {ancestor} is a file, not a folder: choose another output path"
        )
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise PainterlyError(
            f"cannot write into {ancestor}: permission denied or a read-only folder: choose another output folder"
        )
