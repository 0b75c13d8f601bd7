#!/usr/bin/env python3
"""Install Painterly for GIMP 3 and Krita: from this folder to a working plug-in, in one command.

    python installer.py                  # both editors, a venv of its own, the right torch, the models
    python installer.py --editor krita --enable
    python installer.py --check          # is everything still in place, and does the worker start?
    python installer.py --uninstall      # remove exactly what was installed (settings stay; --purge)
    python installer.py --package krita -o dist   # the plug-in alone as a zip (also: --package gimp)

What it does, in order (each step says what it changed, or "unchanged"):

1. the worker's Python environment: reuses ``--venv`` (which must have Painterly), or
   creates a venv in Painterly's data folder and installs torch for this machine (CUDA
   when nvidia-smi answers, ROCm when ROCm is there, MPS on macOS, else the CPU build;
   ``--torch``/``--torch-spec``/``--torch-index`` override; pip's own index configuration when
   PyTorch's index cannot be reached) and then Painterly itself;
2. the models: ``painterly models install --all`` in that environment (downloads, or copies
   from ``PAINTERLY_MODEL_MIRROR``), with its progress bars;
3. the plug-in files, into every GIMP 3 and Krita plug-in folder found (Flatpak too);
4. the settings file: the worker's Python (and ``--model-dir``);
5. Krita only: ``--enable`` ticks the plug-in in kritarc;
6. a manifest of every file and folder it made (with hashes), in the data folder:
   ``--uninstall`` and ``--check`` work from it;
7. a check that a worker starts from the installed plug-in and answers.

A file in the way that the installer did not make (or one changed since) is never
overwritten silently: the run stops before changing anything, unless ``--force``. It never
writes or removes through a symbolic link below the folders it installs into, and it writes
files with the mode the umask gives. ``--uninstall`` removes only what the manifest lists,
says why it left anything, and then keeps a manifest of just that, for a second run.
Running it twice changes nothing. Standard library only, Python 3.10 or newer.

The code is the package installer/ beside this script (its docstring says what is where).
"""

import sys
from pathlib import Path

if sys.version_info < (3, 10):  # noqa: UP036 - said clearly, before anything else can fail
    sys.exit(f"Painterly's installer needs Python 3.10 or newer; this is {sys.version.split()[0]}.")

# This folder first, even under `python -I` (which leaves the script's folder out of sys.path): the package
# installer/ here, not one of the same name that may be installed.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from installer.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
