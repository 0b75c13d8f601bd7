"""The command line: options, and one line for every error (no traceback), with a clean SIGTERM."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from painterly_common.files import Terminated, terminate_cleanly

from . import commands, package
from .errors import InstallError
from .files import os_error_text
from .run import Installer

# What --package has no use for (it takes -o, --force and --dry-run).
INSTALL_ONLY = (
    "editor",
    "prefix",
    "venv",
    "venv_path",
    "torch",
    "torch_spec",
    "torch_index",
    "model_dir",
    "skip_models",
    "enable",
    "platform",
)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python installer.py",
        description="Install Painterly for GIMP 3 and Krita: a Python environment with torch, the models, the "
        "plug-in files and the settings. Running it again changes nothing.",
    )
    p.add_argument("--editor", choices=["gimp", "krita", "all"], default="all", help="which plug-ins (default: all)")
    p.add_argument("--prefix", metavar="DIR", help="install into DIR as if it were the home folder (for tests)")
    p.add_argument(
        "--venv",
        metavar="PATH",
        help="use this existing environment (a venv folder or its python), which has Painterly already",
    )
    p.add_argument("--venv-path", metavar="DIR", help="where to make the venv (default: <data folder>/venv)")
    p.add_argument(
        "--torch",
        choices=["auto", "cpu", "cuda", "rocm", "mps", "skip"],
        default="auto",
        help="which torch build (default: detected: NVIDIA → cuda, ROCm → rocm, macOS → mps, else cpu)",
    )
    p.add_argument("--torch-spec", default="torch", metavar="SPEC", help="the pip requirement (default: torch)")
    p.add_argument(
        "--torch-index", metavar="URL", help="the wheel index for torch ('default': pip's own configuration)"
    )
    p.add_argument("--model-dir", metavar="DIR", help="keep the models in DIR (saved in the settings)")
    p.add_argument("--skip-models", action="store_true", help="do not fetch the models now (first use fetches them)")
    p.add_argument("--enable", action="store_true", help="Krita: enable the plug-in in kritarc (Krita closed)")
    p.add_argument("--force", action="store_true", help="overwrite files in the way that the installer did not make")
    p.add_argument("--dry-run", action="store_true", help="say what would be done; write nothing")
    action = p.add_mutually_exclusive_group()
    action.add_argument("--check", action="store_true", help="verify the installation; non-zero exit if broken")
    action.add_argument("--uninstall", action="store_true", help="remove what the installer installed")
    action.add_argument(
        "--package",
        choices=["gimp", "krita"],
        help="write that editor's plug-in as a zip (painterly-EDITOR-VERSION.zip) instead of installing: "
        "for Krita's Import Python Plugin from File, or to unpack into GIMP's plug-ins folder",
    )
    p.add_argument("-o", "--output", metavar="DIR", help="with --package: the folder for the zip (default: .)")
    p.add_argument("--purge", action="store_true", help="with --uninstall: remove the settings too")
    p.add_argument("--platform", choices=["linux", "windows", "macos"], help=argparse.SUPPRESS)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.platform and not args.prefix:
        parser().error("--platform only works with --prefix")
    if args.purge and not args.uninstall:
        parser().error("--purge goes with --uninstall")
    if args.output is not None and not args.package:
        parser().error("-o/--output goes with --package")
    if args.package:
        # the zip holds the plug-in's files only: an option about the install would be silently ignored
        defaults = parser().parse_args([])
        given = [name for name in INSTALL_ONLY if getattr(args, name) != getattr(defaults, name)]
        if given:
            parser().error(f"--package does not go with --{given[0].replace('_', '-')}")
    try:
        with terminate_cleanly():  # SIGTERM/SIGHUP unwind as Ctrl-C does: no temporary file stays behind
            if args.package:
                return package.write_package(
                    args.package, Path(args.output or "."), force=args.force, dry=args.dry_run, say=print
                )
            run = Installer(args)
            if args.check:
                return commands.check(run)
            if args.uninstall:
                return commands.uninstall(run)
            return commands.install(run)
    except InstallError as exc:
        print(f"\ninstaller: error: {exc}", file=sys.stderr, flush=True)
        return 1
    except OSError as exc:  # one line, as for every other error (--check and --uninstall report their own)
        print(f"\ninstaller: error: {os_error_text(exc)}", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        print("\ninstaller: interrupted. Run it again to finish; what is done stays done.", file=sys.stderr)
        return 130
    except Terminated as exc:
        print(
            f"\ninstaller: stopped ({signal.Signals(exc.signum).name}). Run it again to finish; what is done "
            "stays done.",
            file=sys.stderr,
            flush=True,
        )
        return 128 + exc.signum
