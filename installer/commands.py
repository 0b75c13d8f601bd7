"""The three commands, each one loop over the steps: install, `--check` and `--uninstall`.

The steps are the same objects in every loop; the order differs, each for the reason given below.
"""

from __future__ import annotations

import os

from .checkout import psettings, source_version, warm
from .files import os_error_text
from .manifest import ManifestStep, keep_only, save_progress
from .removal import Record, Undoer
from .run import Installer
from .steps import CheckReport
from .steps.environment import EnvironmentStep
from .steps.folders import FoldersStep
from .steps.krita import KritaStep
from .steps.models import ModelsStep, models_home
from .steps.plugin_files import PluginFilesStep
from .steps.settings import SettingsStep, installed_settings, settings_before
from .steps.worker import WorkerStep

ENVIRONMENT, MODELS, PLUGIN_FILES, SETTINGS = EnvironmentStep(), ModelsStep(), PluginFilesStep(), SettingsStep()
KRITA, WORKER, FOLDERS, MANIFEST = KritaStep(), WorkerStep(), FoldersStep(), ManifestStep()

# Install: each step uses what the ones before made (the models and the settings need step 1's Python);
# the manifest comes after them all, as it lists what they made.
INSTALL = (ENVIRONMENT, MODELS, PLUGIN_FILES, SETTINGS, KRITA)
# The install's plan and --check report in this order: the plug-in files first, the worker once the settings
# that name its Python were read (a step with nothing to plan or check adds nothing).
REPORT = (PLUGIN_FILES, MANIFEST, SETTINGS, WORKER, ENVIRONMENT, MODELS, KRITA)
# Uninstall: what lives in the folders first, then the folders themselves, deepest first.
UNDO = (PLUGIN_FILES, KRITA, MODELS, ENVIRONMENT, SETTINGS, FOLDERS)

DONE = {
    "gimp": "GIMP: Filters ▸ Artistic ▸ Painterly Style Transfer… (and Painterly Preferences…)",
    "krita": "Krita: Tools ▸ Scripts ▸ Painterly Style Transfer… (and Painterly Preferences…), "
    "and the Painterly docker",
}


# ---------------------------------------------------------------- install


def _refused(run: Installer) -> bool:
    """Plan every step; say what stops the install, and whether it does. Changes nothing."""
    plans = [step.plan(run) for step in REPORT]
    soft = [c for p in plans for c in p.conflicts]
    hard = list(dict.fromkeys(b for p in plans for b in p.blocked))  # one line for a link above many files
    force = run.args.force
    if soft and not force:
        run.say("\nThese files are in the way, and the installer did not make them (or they were changed since):")
        for c in soft:
            run.say(f"    {c}")
    if hard:
        run.say("\nThe installer cannot write here (--force does not change that):")
        for c in hard:
            run.say(f"    {c}")
    if hard or (soft and not force):
        run.say(
            "Nothing was changed. "
            + (
                "Move them away, or run again with --force to overwrite them."
                if not hard
                else "Move those away (or make the folder writable), then run the installer again."
            )
        )
        return True
    for c in soft:
        run.say(f"    note: --force: overwriting {c}")
    return False


def install(run: Installer) -> int:
    lay = run.layout
    run.say(f"Painterly {source_version()} installer{' (dry run: nothing is written)' if run.dry else ''}")
    run.say(f"    editors: {', '.join(run.editors)}; data folder: {lay.data}; settings: {lay.settings_file}")
    home = run.home_now = models_home(run, settings_before(run))
    if _refused(run):
        return 1
    try:
        return _install_steps(run)
    except BaseException:
        if not run.dry and not run.manifest_written:
            save_progress(run, home)
        raise


def _install_steps(run: Installer) -> int:
    total = len(INSTALL) + 1
    for n, step in enumerate(INSTALL, 1):
        run.heading(n, total, step.title(run))
        step.apply(run)
    run.heading(total, total, "Checking the installation")
    MANIFEST.apply(run)
    stop_warm_workers(run)
    problems = [] if run.dry else check_installation(run, run.manifest, models_required=not run.args.skip_models)
    run.summary()
    if problems:
        run.say(f"\nInstalled, but {len(problems)} problem(s) were found (above).")
        return 1
    if not run.dry:
        run.say("\nDone. Restart the editor, then:")
        for e in run.editors:
            run.say(f"    {DONE[e]}")
    return 0


def stop_warm_workers(run: Installer) -> None:
    """GIMP's worker kept ready goes on running the code it started with, for up to its idle time:
    after an install or an uninstall it is stopped, and the next call starts one with what is
    installed now. A call it is serving finishes first (it is stopped after 20 s at the most)."""
    if run.dry or not warm.supported():
        return
    try:
        stopped = warm.stop_workers(warm.runtime_dir())
    except (warm.WarmUnavailable, OSError) as exc:
        run.say(f"    note: GIMP's worker kept ready, if one runs, ends after its idle time ({exc})")
        return
    if stopped:
        run.say(f"    stopped GIMP's worker kept ready ({stopped}): its next call starts one with this install")


# ---------------------------------------------------------------- --check


def check_installation(run: Installer, manifest: dict, *, models_required: bool = True) -> list[str]:
    """What is wrong with the installation in `manifest` (empty: nothing). Prints as it goes."""
    report = CheckReport(run.say, models_required)
    for step in REPORT:
        step.check(run, manifest, report)
    return report.problems


def check(run: Installer) -> int:
    if not run.old:
        run.say(f"✘ Painterly is not installed here: no manifest at {run.layout.manifest}.")
        return 1
    run.say(f"Checking the Painterly installation listed in {run.layout.manifest}")
    problems = check_installation(run, run.old)
    if problems:
        run.say(f"\n{len(problems)} problem(s) found. Running the installer again repairs most of them.")
        return 1
    run.say("\nPainterly is installed correctly.")
    return 0


# ---------------------------------------------------------------- --uninstall


def uninstall(run: Installer) -> int:
    """Take back exactly what the manifest lists; never raises for the file system.

    The manifest goes last: while anything is left (a changed file, a link or a foreign file where
    the installer's were, an error), it stays, listing only what is left, so that a second run can
    finish. Exit code 1 when something was left."""
    m, manifest = run.old, run.layout.manifest
    if m:
        run.say(f"Uninstalling Painterly (from {manifest}){' — dry run' if run.dry else ''}")
    else:
        run.say(f"Nothing to uninstall: no manifest at {manifest}.")
        if not run.args.purge:
            return 0
    undo = Undoer(run.roots(m), run.made_dirs(m), dry=run.dry, force=run.args.force, say=run.say, did=run.did)
    settings = installed_settings(run, m)
    if not run.args.purge:
        undo.kept |= {settings, settings.with_name(settings.name + psettings.BAD_SUFFIX)}
    stop_warm_workers(run)  # before its Python goes
    records = [r for step in UNDO for r in step.undo(run, m)]
    last = [r for r in records if r.kind == "dir" and r.path in manifest.parents]  # they hold the manifest
    left = [r for r in records if r not in last and not undo.undo(r)]
    if m:
        left = _finish(run, m, records, last, left, undo)
    if not run.args.purge and os.path.lexists(settings):
        run.say(f"    kept (your settings; --purge removes them) {settings}")
    run.counts["removed"] += undo.dirs_removed
    run.summary("Nothing was removed")
    if left:
        rest = f"; {manifest} now lists only those, so that --uninstall run again finishes" if m and not run.dry else ""
        why = len(undo.said) or 1  # the folders left only because they hold those are not counted
        run.say(
            f"Painterly was not completely uninstalled: {why} thing(s) {'would be ' if run.dry else ''}"
            f"left, for the reasons above{rest}."
        )
        return 1
    run.say("Painterly was uninstalled." if not run.dry else "")
    return 0


def _finish(
    run: Installer, m: dict, records: list[Record], last: list[Record], left: list[Record], undo: Undoer
) -> list[Record]:
    """The manifest, and the folders that hold it: removed when nothing else is left, else rewritten to list
    what is. Returns what is left."""
    manifest = run.layout.manifest
    if not left:
        # Would the manifest's folders be empty without it? Otherwise it must stay to list them.
        trial = undo.trial({manifest})
        left = [r for r in last if not trial.undo(r)]
    if left:
        # with the folders kept for the settings: a second run must know them as the installer's
        kept = [r for r in records if r.kind == "dir" and r.path in undo.kept]
        keep_only(run, m, left + [r for r in last + kept if r not in left], undo)
        return left
    try:
        if not run.dry:
            os.unlink(manifest)
        undo.gone.add(manifest)
        run.did("removed", str(manifest))
        return [r for r in last if not undo.undo(r)]
    except OSError as exc:
        undo.tell(f"could not remove {manifest}: {os_error_text(exc)}")
        return [Record("file", manifest)]
