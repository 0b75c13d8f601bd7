"""`painterly` — stylize images, manage models, list devices."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from painterly_common.files import Terminated, os_error_message, terminate_cleanly
from painterly_common.options import (
    DEFAULT_BRUSH_SIZE,
    DEFAULT_REFINE_STEPS,
    DEFAULT_STABILITY,
    DEFAULT_STYLE,
    DEFAULT_STYLE_SIZE,
    MAX_STABILITY,
    NATIVE,
)
from tqdm import tqdm

from . import __version__, catalog, store, styles, worker
from .errors import PainterlyError
from .sheet import DEFAULT_TILE, MAX_TILE, MIN_TILE

if TYPE_CHECKING:
    import numpy as np

    from .cluster import Cluster
    from .cluster.node import Done
    from .engine import Stylizer
    from .imageio import LoadedImage
    from .outputs import OutputPlan
    from .sequence import FrameProgress


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING, format="painterly: %(message)s")
    logging.getLogger("painterly").debug("allocator: %s", os.environ.get("LD_PRELOAD") or "the C library's")
    try:
        with terminate_cleanly():  # SIGTERM/SIGHUP unwind like Ctrl-C: temporary files are removed
            return args.func(args) or 0
    except PainterlyError as exc:
        if args.debug:
            traceback.print_exc()
        print(f"painterly: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # what the OS refused in a place that has no message of its own
        if args.debug:
            traceback.print_exc()
        print(f"painterly: error: {os_error_message(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("painterly: interrupted; nothing was written for the unfinished image or video", file=sys.stderr)
        return 130
    except Terminated as exc:
        print(
            f"painterly: stopped by signal {exc.signum}; nothing was written for the unfinished image or video",
            file=sys.stderr,
        )
        return int(exc.code or 1)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="painterly", description="Neural style transfer for images.")
    p.add_argument("--version", action="version", version=f"painterly {__version__}")
    p.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("stylize", help="stylize images, the frames of a clip, or videos")
    s.add_argument("inputs", nargs="+", metavar="INPUT")
    s.add_argument(
        "-o",
        "--output",
        required=True,
        help="output file (its extension picks the format), or a folder for many inputs",
    )
    s.add_argument(
        "--style",
        dest="styles",
        action="append",
        metavar="NAME",
        help="a preset (see `painterly models list`) or a style image; repeat to mix styles",
    )
    s.add_argument(
        "--style-image",
        dest="styles",
        action="append",
        metavar="PATH",
        help="any image as the style (a painting, a texture); repeatable",
    )
    s.add_argument("--weights", type=_weights, help="mixing weights for several styles, e.g. 0.7,0.3")
    s.add_argument(
        "--style-size",
        type=int,
        default=DEFAULT_STYLE_SIZE,
        help="size the style image is read at (default 256): smaller = bolder, larger strokes",
    )
    s.add_argument("--strength", type=float, default=1.0, help="0 = original, 1 = full style (default)")
    s.add_argument("--preserve-color", action="store_true", help="keep the photo's colours")
    s.add_argument(
        "--brush-size",
        type=_brush_size,
        default=DEFAULT_BRUSH_SIZE,
        metavar="PERCENT",
        help="stroke size, in %% of the strokes of a 1024-pixel picture, the same look at any size "
        "(default 100; 200 = twice as large); 'native' runs the network at the picture's own size",
    )
    s.add_argument(
        "--refine",
        action="store_true",
        help="then optimize the result towards the style image (Gatys et al.): slower, closer to the "
        "painting; for painting presets and style images",
    )
    s.add_argument(
        "--refine-steps",
        type=int,
        metavar="N",
        help=f"Refine with N optimization steps (default {DEFAULT_REFINE_STEPS}; implies --refine)",
    )
    s.add_argument(
        "--sequence",
        action="store_true",
        help="the inputs, in the order given, are the frames of one clip: the results are kept stable from "
        "frame to frame (a video file always is)",
    )
    s.add_argument(
        "--stability",
        type=float,
        default=DEFAULT_STABILITY,
        metavar="S",
        help=f"for a clip: how much of each frame's strokes carry into the next where the motion is "
        f"clear (default {DEFAULT_STABILITY}; 0 = each frame alone, up to {MAX_STABILITY})",
    )
    s.add_argument("--start", type=_time, metavar="TIME", help="a video's part from this time on (12.5 or 1:02.5)")
    s.add_argument("--end", type=_time, metavar="TIME", help="a video's part up to this time")
    s.add_argument("--max-side", type=int, help="the network works at most this many pixels on the longer side")
    s.add_argument("--tile", type=int, help="tile size in pixels (default: from free memory)")
    s.add_argument("--device", help="auto, cpu, cuda, cuda:1, mps, xpu (or PAINTERLY_DEVICE)")
    s.add_argument(
        "--precision",
        choices=["auto", "full", "half"],
        help="auto: bf16 on CPUs that have it, fp16 on GPUs (or PAINTERLY_PRECISION)",
    )
    s.add_argument(
        "--overwrite", action="store_true", help="replace output files that exist already (an input is never replaced)"
    )
    s.add_argument(
        "--resume",
        action="store_true",
        help="skip the inputs whose outputs are complete already (a batch that was interrupted)",
    )
    s.add_argument(
        "--ray",
        nargs="?",
        const="",
        metavar="ADDRESS",
        help="spread the work over a Ray cluster: its head's host:port, 'auto' for the one this machine "
        "knows (RAY_ADDRESS), or nothing to start one here (needs painterly[ray] on every node)",
    )
    s.add_argument(
        "--ray-cpus",
        type=int,
        metavar="N",
        help="with --ray: the CPUs each image takes on a node (default: the smallest node's, up to 8)",
    )
    s.add_argument("--no-download", action="store_true", help="fail instead of installing a missing model")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.set_defaults(func=_stylize)

    sh = sub.add_parser("sheet", help="a contact sheet: every preset applied to one photo, labelled, in one image")
    sh.add_argument("photo", metavar="PHOTO")
    sh.add_argument("-o", "--output", required=True, help="the sheet's file (its extension picks the format)")
    sh.add_argument(
        "--size",
        type=int,
        default=DEFAULT_TILE,
        metavar="N",
        help=f"each tile's longer side in pixels (default {DEFAULT_TILE}; {MIN_TILE} to {MAX_TILE})",
    )
    sh.add_argument(
        "--style",
        dest="styles",
        action="append",
        metavar="NAME",
        help="only these presets, in this order (repeatable; default: every preset)",
    )
    sh.add_argument("--device", help="auto, cpu, cuda, cuda:1, mps, xpu (or PAINTERLY_DEVICE)")
    sh.add_argument("--overwrite", action="store_true", help="replace the output file if it exists")
    sh.add_argument("--no-download", action="store_true", help="fail instead of installing a missing model")
    sh.add_argument("--quiet", action="store_true", help="no progress bar")
    sh.set_defaults(func=_sheet)

    m = sub.add_parser("models", help="list, install, verify or remove models")
    msub = m.add_subparsers(dest="action", required=True)
    ls = msub.add_parser("list", help="the catalog and what is installed")
    ls.add_argument(
        "--json",
        action="store_true",
        help="every preset as JSON: name, display_name, method, model, licence, attribution, installed",
    )
    ls.set_defaults(func=_models_list)
    inst = msub.add_parser("install", help="download, verify and convert models")
    inst.add_argument("names", nargs="*")
    inst.add_argument("--all", action="store_true")
    inst.add_argument("--force", action="store_true", help="reinstall even if present")
    inst.set_defaults(func=_models_install)
    ver = msub.add_parser("verify", help="check installed models")
    ver.add_argument("names", nargs="*")
    ver.set_defaults(func=_models_verify)
    rm = msub.add_parser("remove", help="delete installed models")
    rm.add_argument("names", nargs="+")
    rm.set_defaults(func=_models_remove)

    sub.add_parser("devices", help="the compute devices found").set_defaults(func=_devices)
    work = sub.add_parser("worker", help="serve the editor plug-ins over stdin/stdout (or a Unix socket)")
    worker.add_arguments(work)
    work.set_defaults(func=_worker, parser=work)
    return p


# -- stylize -----------------------------------------------------------------


def _weights(text: str) -> list[float]:
    try:
        return [float(w) for w in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"weights must be numbers separated by commas, got '{text}'") from None


def _brush_size(text: str) -> int | str:
    if text.strip().lower() == NATIVE:
        return NATIVE
    try:
        return int(text.strip().rstrip("%"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"a whole percentage such as 100, or 'native', got '{text}'") from None


def _time(text: str) -> float:
    from .video import parse_time

    try:
        return parse_time(text)
    except PainterlyError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _stylize(args: argparse.Namespace) -> int:
    from .engine import Stylizer, check_options, check_refine
    from .outputs import plan_outputs
    from .sequence import check_stability
    from .video import is_video, require_av

    style = args.styles or [DEFAULT_STYLE]
    style = style[0] if len(style) == 1 else style
    style_files = [s for s in args.styles or [] if styles.is_path_like(s)]
    check_options(
        strength=args.strength,
        max_side=args.max_side,
        tile=args.tile,
        style_size=args.style_size,
        brush_size=args.brush_size,
    )
    styles.check_weights(len(args.styles or [DEFAULT_STYLE]), args.weights)
    refine = check_refine(args.refine_steps if args.refine_steps is not None else bool(args.refine))
    check_stability(args.stability)
    videos = [src for src in args.inputs if is_video(src)]
    if (args.start is not None or args.end is not None) and not videos:
        raise PainterlyError("--start and --end choose a part of a video; no input is a video file")
    if args.sequence and videos:
        raise PainterlyError(
            f"{videos[0]} is a video, and a video is a clip already: leave out --sequence (it is for frames as images)"
        )
    if args.sequence and args.resume:
        raise PainterlyError("a sequence is stylized whole, each frame after the one before: leave out --resume")
    if args.ray_cpus is not None and args.ray is None:
        raise PainterlyError("--ray-cpus is for a cluster: add --ray")
    if videos:
        require_av()  # before any model is installed
    if args.ray is not None:
        from .cluster.session import require_ray

        require_ray()
    plan = plan_outputs(args.inputs, args.output, protected=style_files, overwrite=args.overwrite, resume=args.resume)
    for note in plan.notes:
        print(f"painterly: {note}", file=sys.stderr)
    if args.sequence:
        _check_frame_sizes(args.inputs)
    st = Stylizer(
        device=args.device,
        precision=args.precision,
        tile=args.tile,
        allow_download=not args.no_download,
        on_message=lambda m: print(m, file=sys.stderr),
    )
    options = {
        "style": style,
        "strength": args.strength,
        "preserve_color": args.preserve_color,
        "max_side": args.max_side,
        "style_weights": args.weights,
        "style_size": args.style_size,
        "brush_size": args.brush_size,
        "refine": refine,
    }
    if args.ray is None:
        # an unknown style (or Refine with a network preset) fails, and models install, before any image is read
        st.prepare(style, args.weights, refine=refine)
        return _run(st, plan, options, args)
    st.check(style, args.weights, refine=refine)  # the nodes install the models
    from .cluster import Cluster

    with Cluster(
        args.ray or None,
        args.ray_cpus,
        device=args.device,
        precision=args.precision,
        tile=args.tile,
        allow_download=not args.no_download,
    ) as cluster:
        print(f"painterly: on a Ray cluster of {cluster.layout}", file=sys.stderr)
        return _run(cluster, plan, options, args)


def _run(engine: Stylizer | Cluster, plan: OutputPlan, options: dict, args: argparse.Namespace) -> int:
    """The planned work on this machine (`Stylizer`) or a cluster's (`Cluster`); the summary."""
    from .video import is_video

    started = time.monotonic()
    if args.sequence:
        _stylize_frames(engine, plan.pairs, options, args)
        return 0
    failed: list[str] = []

    def failure(src: str, exc: PainterlyError) -> None:
        if len(plan.pairs) == 1 and not plan.skipped and args.ray is None:
            raise exc
        failed.append(src)
        print(f"painterly: error: {exc}", file=sys.stderr)

    images = [(src, dst) for src, dst in plan.pairs if not is_video(src)]
    done, nodes = _stylize_images(engine, images, options, args, failure)
    for src, dst in plan.pairs:
        if is_video(src):
            try:
                _stylize_video(engine, src, dst, options, args)
                done += 1
            except PainterlyError as exc:
                failure(src, exc)
    if args.ray is not None or args.resume:
        seconds = time.monotonic() - started
        print(
            f"painterly: {done} done, {len(plan.skipped)} skipped (complete already), {len(failed)} failed, "
            f"in {_duration(seconds)}" + (f" on {nodes} node{'s' if nodes != 1 else ''}" if nodes else ""),
            file=sys.stderr,
        )
    if failed:
        print(f"painterly: {len(failed)} of {len(plan.pairs)} inputs failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def _duration(seconds: float) -> str:
    m, s = divmod(round(seconds), 60)
    return f"{m} min {s} s" if m else f"{seconds:.1f} s"


def _stylize_images(
    engine: Stylizer | Cluster,
    images: list[tuple[str, Path]],
    options: dict,
    args: argparse.Namespace,
    failure: Callable[[str, PainterlyError], None],
) -> tuple[int, int | None]:
    """The images stylized and written: how many were, and on how many of a cluster's nodes."""
    from .engine import Stylizer
    from .imageio import load_image, save_image
    from .io_overlap import overlapped

    if not images:
        return 0, None
    if isinstance(engine, Stylizer):
        written = 0

        def stylized(src: str, image: LoadedImage) -> tuple[np.ndarray, bytes | None]:
            for warning in image.warnings:
                print(f"painterly: warning: {warning}", file=sys.stderr)
            with _bar(Path(src).name, args.quiet) as progress:
                return engine.stylize(image.pixels, on_progress=progress, **options), image.icc_profile

        def save(dst: Path, result: tuple[np.ndarray, bytes | None]) -> None:
            nonlocal written
            save_image(dst, *result)
            written += 1

        # the next input is decoded, and the last output encoded, while this one is stylized
        overlapped(images, load_image, stylized, save, failure)
        return written, None
    with tqdm(
        total=len(images),
        desc="images",
        unit="image",
        disable=args.quiet,
        bar_format="{desc}: {n}/{total} |{bar}| {elapsed}<{remaining} {postfix}",
    ) as bar:

        def on_done(src: str, done: Done) -> None:
            if done.error is not None:
                failure(src, PainterlyError(done.error))
            for warning in done.warnings:
                print(f"painterly: warning: {src}: {warning}", file=sys.stderr)
            bar.update(1)

        report = engine.stylize_files(images, on_done=on_done, **options)
    return len(report.done), report.nodes


@contextmanager
def _bar(name: str, quiet: bool) -> Iterator[Callable[[float, str], None]]:
    """A progress bar in percent for one picture; yields its `on_progress`."""
    with tqdm(
        total=100,
        desc=name,
        unit="%",
        disable=quiet,
        bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed}<{remaining} {postfix}",
    ) as bar:

        def progress(fraction: float, stage: str) -> None:
            bar.n = round(fraction * 100)
            bar.set_postfix_str(stage, refresh=False)
            bar.refresh()

        yield progress


@contextmanager
def _frame_bar(name: str, frames: int | None, quiet: bool) -> Iterator[Callable[[int, float, str], None]]:
    """A progress bar over the frames of a clip; yields its `on_progress(frame, fraction, stage)`."""
    with tqdm(
        total=frames,
        desc=name,
        unit="frame",
        disable=quiet,
        bar_format="{desc}: {n:.1f}/{total_fmt} frames|{bar}| {elapsed}<{remaining} {postfix}"
        if frames
        else "{desc}: {n:.1f} frames {elapsed} {postfix}",
    ) as bar:
        shown: list[object] = [None]

        def progress(frame: int, fraction: float, stage: str) -> None:
            n = round(frame + fraction, 1)
            if shown[0] == (n, stage):  # a redraw per tile would flood a terminal
                return
            shown[0] = (n, stage)
            bar.n = n
            bar.set_postfix_str(stage, refresh=False)
            bar.refresh()

        yield progress


def _check_frame_sizes(inputs: list[str]) -> None:
    """All of a sequence's frames have the first one's size, or nothing is done."""
    from .imageio import image_size

    first = image_size(inputs[0])
    for src in inputs[1:]:
        size = image_size(src)
        if size != first:
            raise PainterlyError(
                f"{src} is {size[1]}×{size[0]} pixels, but {inputs[0]} is {first[1]}×{first[0]}: "
                "the frames of a sequence must all be the same size"
            )


def _sequence(
    engine: Stylizer | Cluster,
    frames: Iterable[np.ndarray],
    count: int | None,
    progress: FrameProgress,
    args: argparse.Namespace,
    options: dict,
) -> Iterator[np.ndarray]:
    """A clip's results on this machine or on a cluster (in chunks, `cluster/chunks.py`)."""
    from .engine import Stylizer

    if isinstance(engine, Stylizer):
        return engine.stylize_sequence(frames, stability=args.stability, on_progress=progress, **options)
    return engine.stylize_sequence(frames, stability=args.stability, on_progress=progress, frame_count=count, **options)


def _stylize_frames(
    engine: Stylizer | Cluster, pairs: list[tuple[str, Path]], options: dict, args: argparse.Namespace
) -> None:
    """The inputs as the frames of one clip, each result written as it comes. A frame that cannot
    be read ends the run: the frames after it would follow a gap."""
    from .imageio import load_image, save_image

    profiles: list[bytes | None] = []

    def frames() -> Iterator[np.ndarray]:
        for src, _ in pairs:
            image = load_image(src)
            for warning in image.warnings:
                print(f"painterly: warning: {warning}", file=sys.stderr)
            profiles.append(image.icc_profile)
            yield image.pixels

    with _frame_bar("frames", len(pairs), args.quiet) as progress:
        results = _sequence(engine, frames(), len(pairs), progress, args, options)
        for (_, dst), result in zip(pairs, results, strict=False):
            save_image(dst, result, profiles.pop(0))


def _stylize_video(engine: Stylizer | Cluster, src: str, dst: Path, options: dict, args: argparse.Namespace) -> None:
    from .video import VideoReader, write_video

    with VideoReader(src, args.start, args.end) as reader:
        info = reader.info
        with _frame_bar(Path(src).name, info.frames, args.quiet) as progress:
            write_video(
                dst,
                reader,
                lambda frames: _sequence(engine, frames, info.frames, progress, args, options),
            )


# -- sheet ---------------------------------------------------------------------


def _sheet(args: argparse.Namespace) -> int:
    from .engine import Stylizer
    from .imageio import load_image, save_image
    from .outputs import plan_outputs
    from .sheet import check_tile_size, make_sheet

    check_tile_size(args.size)
    chosen = [catalog.preset(name) for name in args.styles or catalog.presets()]  # unknown names fail here
    plan = plan_outputs([args.photo], args.output, overwrite=args.overwrite)
    st = Stylizer(
        device=args.device, allow_download=not args.no_download, on_message=lambda m: print(m, file=sys.stderr)
    )
    for p in chosen:  # every model installed (or refused) before any pixel work
        st.prepare(p.name)
    image = load_image(args.photo, min_side=args.size)  # a huge photo is decoded reduced: only a tile is needed
    for warning in image.warnings:
        print(f"painterly: warning: {warning}", file=sys.stderr)
    with tqdm(total=len(chosen), desc="sheet", unit="style", disable=args.quiet) as bar:

        def on_tile(i: int, name: str) -> None:
            bar.n = i
            bar.set_postfix_str(name, refresh=False)
            bar.refresh()

        sheet = make_sheet(st, image.pixels, [(p.name, p.display_name) for p in chosen], args.size, on_tile)
        bar.n = len(chosen)
        bar.refresh()
    save_image(plan.pairs[0][1], sheet)
    return 0


# -- models --------------------------------------------------------------------


def _models_list(args: argparse.Namespace) -> int:
    if args.json:
        print(json.dumps(store.preset_records(), ensure_ascii=False, indent=2))
        return 0
    for name, entry in catalog.models().items():
        problem = store.verify(name)
        state = "installed" if problem is None else "not installed" if problem == "not installed" else "damaged"
        print(f"{name:24} {entry.method:10} {entry.size / 1e6:6.1f} MB  {state:13}  {entry.licence}")
        print(f"{'':24} {entry.attribution}")
    print("\npresets: " + ", ".join(catalog.presets()))
    return 0


def _names(args: argparse.Namespace, default_all: bool) -> list[str]:
    if getattr(args, "all", False) or (default_all and not args.names):
        return list(catalog.models())
    if not args.names:
        raise PainterlyError("name the models to install, or use --all")
    for n in args.names:
        catalog.model(n)
    return args.names


def _models_install(args: argparse.Namespace) -> int:
    for name in _names(args, default_all=False):
        problem = store.verify(name)
        if problem is None and not args.force:
            print(f"{name}: already installed")
            continue
        if problem not in (None, "not installed"):
            print(f"{name}: the installed copy is damaged ({problem}); reinstalling")
        entry = catalog.model(name)
        with tqdm(total=entry.size, desc=name, unit="B", unit_scale=True) as bar:
            store.install(name, progress=lambda done, total: bar.update(done - bar.n), force=True)
        print(f"{name}: installed ({entry.licence})")
    return 0


def _models_verify(args: argparse.Namespace) -> int:
    bad = 0
    for name in _names(args, default_all=True):
        problem = store.verify(name)
        print(f"{name}: {problem or 'ok'}")
        bad += problem is not None and (problem != "not installed" or bool(args.names))
    return 1 if bad else 0


def _models_remove(args: argparse.Namespace) -> int:
    for name in _names(args, default_all=False):
        print(f"{name}: {'removed' if store.remove(name) else 'was not installed'}")
    return 0


def _devices(args: argparse.Namespace) -> int:
    from . import device

    for d in device.list_devices():
        print(f"{d.name:8} {d.description}")
    print(f"auto picks: {device.resolve('auto')}")
    return 0


def _worker(args: argparse.Namespace) -> int:
    return worker.run(args, args.parser) or 0


if __name__ == "__main__":
    sys.exit(main())
