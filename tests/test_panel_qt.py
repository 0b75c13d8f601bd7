"""The shared Qt panel (Krita's dialog and docker show it) offscreen with pytest-qt, on a real worker.

The host here is a plain picture in memory standing in for the editor's layer; the
worker, the engine and the models are the real ones.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from .conftest import OUTPUT, ROOT, STYLES, WORKER_PYTHON, load_rgb, require_qt

pytestmark = pytest.mark.qt
require_qt()

from painterly_common.options import StylizeOptions  # noqa: E402
from painterly_plugin import thumbnails  # noqa: E402
from painterly_plugin.client import WorkerClient  # noqa: E402
from painterly_plugin.host import ApplyJob, Host, HostError, ImageData, Preview, StyleChoice  # noqa: E402
from painterly_plugin.panel import StylePanel  # noqa: E402
from painterly_plugin.qt import QtCore, QtGui, QtWidgets  # noqa: E402
from PIL import Image  # noqa: E402

WAIT = 120_000  # ms; a cold worker start (torch import) on a busy 2-core machine


def in_engine_python(*args: str, timeout: float = 600) -> str:
    """Run `python ARGS…` with the worker's Python (it has the engine and torch; this one may not,
    as in the Qt 6 run) from the checkout, in this environment; return its stdout."""
    done = subprocess.run(
        [WORKER_PYTHON, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=dict(os.environ)
    )
    assert done.returncode == 0, f"{WORKER_PYTHON} {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def client(painterly_home):
    # Every model, so the gallery can show every thumbnail (a few MB, from the mirror), by the
    # engine's own command: what the preferences' "Install missing" runs.
    in_engine_python("-m", "painterly.cli", "models", "install", "--all")
    with WorkerClient(python=WORKER_PYTHON) as c:
        yield c


@pytest.fixture(scope="module")
def thumb_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("thumbnails")  # shared: later panels reuse the cache


def rgba(rgb: np.ndarray) -> np.ndarray:
    h, w = rgb.shape[:2]
    alpha = np.full((h, w, 1), 255, np.uint8)
    alpha[: h // 4, : w // 4] = 128  # a translucent corner: alpha must pass through
    return np.ascontiguousarray(np.concatenate([rgb, alpha], axis=2))


class PictureHost(Host):
    """An editor with one RGBA8 layer: what a Host gives the panel, and what it gets back."""

    supports_layer_style = True

    def __init__(self, pixels: np.ndarray, folder: Path) -> None:
        self.pixels = pixels
        self.folder = folder
        self.calls: list[tuple[StyleChoice, float, bool]] = []
        self.results: list[np.ndarray] = []
        self.refuse: str | None = None

    def preview_image(self, max_side: int) -> Preview:
        im = Image.fromarray(self.pixels)
        im.thumbnail((max_side, max_side), Image.LANCZOS)
        return Preview(ImageData(np.asarray(im).tobytes(), im.width, im.height), "Photo, small")

    def begin_apply(self, choice: StyleChoice, options: StylizeOptions) -> ApplyJob:
        if self.refuse:
            raise HostError(self.refuse)
        self.calls.append((choice, options.strength, options.preserve_color))
        h, w = self.pixels.shape[:2]

        def finish(data, width, height, stride):
            out = np.frombuffer(bytes(data), np.uint8).reshape(height, stride)[:, : width * 4]
            self.results.append(out.reshape(height, width, 4))
            return f"layer {len(self.results)}"

        return ApplyJob(ImageData(self.pixels.tobytes(), w, h), finish, f"the photo ({w}×{h})")

    def style_layers(self) -> list[tuple[str, str]]:
        return [("photo", "Photo layer")]

    def style_from_layer(self, key: str) -> StyleChoice:
        path = self.folder / f"{key}.png"
        Image.fromarray(self.pixels).save(path)
        return StyleChoice(str(path), "Photo layer", "layer")


def make_panel(qtbot, client, host: Host, thumb_dir: Path, factory=None) -> StylePanel:
    panel = StylePanel(host, factory or (lambda: client), thumbnail_dir=thumb_dir)
    qtbot.addWidget(panel)
    panel.resize(800, 580)
    with qtbot.waitSignal(panel.presetsLoaded, timeout=WAIT):
        panel.show()
    return panel


@pytest.fixture
def host(tmp_path) -> PictureHost:
    return PictureHost(rgba(load_rgb("kodim08.png", (192, 128))), tmp_path)


@pytest.fixture
def panel(qtbot, client, host, thumb_dir) -> StylePanel:
    p = make_panel(qtbot, client, host, thumb_dir)
    yield p
    p.shutdown()
    p.wait_idle(30)


def apply_and_wait(qtbot, panel: StylePanel) -> object:
    with qtbot.waitSignal(panel.applied, timeout=WAIT) as blocker:
        panel.apply_button.click()
    return blocker.args[0]


# ---------------------------------------------------------------- the gallery


def test_gallery_has_every_preset_with_a_real_thumbnail(qtbot, panel, client, thumb_dir, host):
    presets = client.presets()
    labels = [panel.gallery.item(i).text() for i in range(panel.gallery.count())]
    assert labels == [p["display_name"] for p in presets]
    assert panel.choice == StyleChoice(presets[0]["name"], presets[0]["display_name"], "preset")
    assert "Licence" in panel.credit_label.text()
    qtbot.waitUntil(lambda: not panel.thumbnails_pending(), timeout=WAIT)
    sample = np.frombuffer(thumbnails.sample_picture(), np.uint8).reshape(thumbnails.SIZE, thumbnails.SIZE, 4)
    seen = []
    for p in presets:
        path = thumbnails.thumbnail_path(p["name"], thumb_dir)
        thumb = np.asarray(Image.open(path).convert("RGBA"))
        assert thumb.shape == sample.shape
        assert np.abs(thumb.astype(int) - sample).mean() > 8, f"{p['name']}: the thumbnail is not stylized"
        assert all(np.abs(thumb.astype(int) - other).mean() > 3 for other in seen), f"{p['name']}: a duplicate"
        seen.append(thumb)
    # the screenshot for a person to look at: gallery, credit, controls and the live preview
    qtbot.waitUntil(
        lambda: panel.preview_label.pixmap() is not None and not panel.preview_label.pixmap().isNull() and panel.idle,
        timeout=WAIT,
    )
    OUTPUT.mkdir(parents=True, exist_ok=True)
    assert panel.grab().save(str(OUTPUT / "krita_panel.png"))

    # A second panel (the docker next to the dialog) takes the thumbnails from the cache.
    again = make_panel(qtbot, client, host, thumb_dir)
    assert not again.thumbnails_pending()
    again.shutdown()


def test_the_gallery_filters_by_group_and_by_name(qtbot, panel, client):
    presets = client.presets()
    groups = panel.gallery_filter.group_combo
    counts = {m: sum(p["method"] == m for p in presets) for m in ("network", "arbitrary", "multistyle")}
    assert [groups.itemText(i) for i in range(groups.count())] == [
        f"All styles ({len(presets)})",
        f"Networks ({counts['network']})",
        f"Paintings ({counts['arbitrary']})",
        f"Looks ({counts['multistyle']})",
    ]

    def shown() -> list[str]:
        items = (panel.gallery.item(i) for i in range(panel.gallery.count()))
        return [item.text() for item in items if not item.isHidden()]

    assert len(shown()) == len(presets)
    groups.setCurrentIndex(3)
    looks = [p["display_name"] for p in presets if p["method"] == "multistyle"]
    assert shown() == looks and len(looks) == 26
    qtbot.keyClicks(panel.gallery_filter.text_edit, "BLUE ")  # any case; words, not the exact text
    assert shown() == [n for n in looks if "blue" in n.lower()] and len(shown()) >= 2
    OUTPUT.mkdir(parents=True, exist_ok=True)
    assert panel.grab().save(str(OUTPUT / "krita_panel_filtered.png"))
    panel.gallery_filter.text_edit.setText("swirls blue")
    assert shown() == ["Blue Swirls"]
    panel.gallery_filter.text_edit.setText("no such words")
    assert shown() == [] and "c0392b" in panel.gallery_filter.text_edit.styleSheet()
    # choosing a preset the filter hides (a script, the last session's choice) shows every style again
    assert panel.select_preset("candy") and panel.choice.style == "candy"
    assert len(shown()) == len(presets) and groups.currentIndex() == 0 and not panel.gallery_filter.text_edit.text()


def test_looks_mix_with_looks_and_have_no_style_size_or_refine(qtbot, panel, host, client):
    assert panel.select_preset("blue_swirls")
    assert not panel.style_size_slider.isEnabled() and not panel.refine_check.isEnabled()
    assert panel.add_to_mix() and panel.select_preset("terracotta") and panel.add_to_mix() and panel.mix.active
    assert not panel.style_size_slider.isEnabled() and not panel.refine_check.isEnabled()
    assert panel.select_preset("starry_night") and not panel.add_to_mix()
    note = panel.mix.note.text()
    assert "“Blue Swirls” is one of the 26 looks" in note and "mix looks with looks" in note
    assert panel.options() == StylizeOptions(styles=("blue_swirls", "terracotta"), weights=(50.0, 50.0))
    made = apply_and_wait(qtbot, panel)
    assert made == "layer 1"
    h, w = host.pixels.shape[:2]
    direct, *_ = client.stylize(host.pixels.tobytes(), w, h, "rgba8", w * 4, panel.options())
    want = np.frombuffer(bytes(direct), np.uint8).reshape(h, w, 4)
    assert np.abs(host.results[0].astype(int) - want).max() <= 1
    alone = np.frombuffer(
        bytes(client.stylize(host.pixels.tobytes(), w, h, "rgba8", w * 4, StylizeOptions.single("terracotta"))[0]),
        np.uint8,
    ).reshape(h, w, 4)
    assert np.abs(host.results[0].astype(int) - alone).mean() > 3, "the mix is not one of its looks"


def test_defaults_and_controls_map_to_the_request(qtbot, panel, host, client):
    assert panel.strength_slider.value() == 100 and not panel.preserve_check.isChecked()
    assert panel.select_preset("udnie")
    panel.strength_spin.setValue(35)
    assert panel.strength_slider.value() == 35
    panel.preserve_check.setChecked(True)
    assert panel.options() == StylizeOptions.single("udnie", strength=0.35, preserve_color=True)
    made = apply_and_wait(qtbot, panel)
    assert made == "layer 1"
    assert host.calls == [(StyleChoice("udnie", "Udnie", "preset"), 0.35, True)]
    h, w = host.pixels.shape[:2]
    direct, *_ = client.stylize(
        host.pixels.tobytes(), w, h, "rgba8", w * 4, StylizeOptions.single("udnie", strength=0.35, preserve_color=True)
    )
    want = np.frombuffer(bytes(direct), np.uint8).reshape(h, w, 4)
    got = host.results[0]
    assert np.abs(got.astype(int) - want).max() <= 1, "the panel sent something else than its controls say"
    assert np.array_equal(got[..., 3], host.pixels[..., 3])


def test_apply_runs_in_the_background_and_reports_progress(qtbot, panel, host):
    panel.select_preset("candy")
    seen: list[tuple[float, str]] = []
    panel.progressChanged.connect(lambda f, s: seen.append((f, s)))
    main = threading.get_ident()
    thread_of_progress: list[int] = []
    panel.progressChanged.connect(lambda f, s: thread_of_progress.append(threading.get_ident()))
    with qtbot.waitSignal(panel.applied, timeout=WAIT):
        panel.apply_button.click()
        assert panel.busy and not panel.apply_button.isEnabled() and panel.cancel_button.isEnabled()
    fractions = [f for f, _ in seen]
    assert fractions and fractions == sorted(fractions) and fractions[-1] == 1.0
    assert set(thread_of_progress) == {main}, "progress must reach the UI on the GUI thread"
    assert panel.progress.value() == panel.progress.maximum()
    assert "Added the layer" in panel.status.text() or panel.status.text() == "Done."
    assert panel.apply_button.isEnabled() and not panel.cancel_button.isEnabled() and not panel.busy
    assert len(host.results) == 1 and host.results[0].shape == host.pixels.shape


def test_cancel_stops_the_worker_and_changes_nothing(qtbot, client, thumb_dir, tmp_path):
    big = PictureHost(rgba(load_rgb("kodim08.png", (1024, 768))), tmp_path)
    panel = make_panel(qtbot, client, big, thumb_dir)
    pid = client.pid
    panel.progressChanged.connect(lambda f, s: panel.cancel())  # Cancel as soon as work is under way
    with qtbot.waitSignal(panel.failed, timeout=WAIT) as blocker:
        panel.apply_button.click()
    assert blocker.args[0] == "cancelled"
    assert big.results == [] and "Cancelled" in panel.status.text() and not panel.busy
    assert panel.message_box is None, "a cancel is not an error"
    assert client.pid == pid, "cancelling must not cost the warm worker"
    # the next Apply works
    panel.progressChanged.disconnect()
    big.pixels = big.pixels[:96, :128].copy()
    apply_and_wait(qtbot, panel)
    assert len(big.results) == 1
    panel.shutdown()
    panel.wait_idle(30)


def test_style_from_file_and_from_layer(qtbot, panel, host, monkeypatch):
    style = STYLES / "udnie.jpg"
    monkeypatch.setattr(QtWidgets.QFileDialog, "getOpenFileName", lambda *a, **k: (str(style), ""))
    panel.file_button.click()
    assert panel.choice == StyleChoice(str(style), "udnie", "file")
    assert not panel.gallery.selectedItems()
    assert "udnie" in panel.style_label.text() and "image file" in panel.style_label.text()
    apply_and_wait(qtbot, panel)
    assert host.calls[-1][0].style == str(style)

    assert panel.layer_combo.count() == 1 and panel.layer_combo.currentText() == "Photo layer"
    panel.layer_button.click()
    assert panel.choice.kind == "layer" and Path(panel.choice.style).is_file()
    apply_and_wait(qtbot, panel)
    assert len(host.results) == 2
    assert np.abs(host.results[1].astype(int) - host.pixels).mean() > 5


def test_worker_errors_show_a_message_box(qtbot, panel, host, tmp_path):
    missing = tmp_path / "no-such-style.png"
    panel.set_style(StyleChoice(str(missing), "no-such-style", "file"))
    with qtbot.waitSignal(panel.failed, timeout=WAIT) as blocker:
        panel.apply_button.click()
    code, message = blocker.args
    assert code in ("bad_image", "unknown_style") and "no such file" in message
    box = panel.message_box
    assert box is not None and box.isVisible() and "no such file" in box.text()
    assert host.results == [] and not panel.busy and panel.apply_button.isEnabled()
    box.close()


def test_host_refusal_is_a_message_box_not_a_crash(qtbot, panel, host):
    host.refuse = "“Group” is a group layer: choose one of the paint layers inside it."
    with qtbot.waitSignal(panel.failed, timeout=5000) as blocker:
        panel.apply_button.click()
    assert blocker.args == ["host", host.refuse]
    assert panel.message_box.isVisible() and panel.message_box.text() == host.refuse
    assert host.calls == [] and not panel.busy
    panel.message_box.close()


def test_worker_that_cannot_start_is_reported(qtbot, tmp_path, thumb_dir, host):
    broken = WorkerClient(python=str(tmp_path / "no-python-here"))
    panel = StylePanel(host, lambda: broken, thumbnail_dir=thumb_dir)
    qtbot.addWidget(panel)
    panel.show()
    qtbot.waitUntil(lambda: "could not start" in panel.status.text(), timeout=WAIT)
    assert str(tmp_path / "no-python-here") in panel.status.text()
    assert panel.gallery.count() == 0
    panel.set_style(StyleChoice("candy", "Candy"))
    with qtbot.waitSignal(panel.failed, timeout=WAIT) as blocker:
        panel.apply_button.click()
    assert blocker.args[0] == "start_failed" and panel.message_box.isVisible()
    panel.message_box.close()


def test_docker_panel_starts_the_worker_only_when_used(qtbot, tmp_path, thumb_dir, host):
    started: list[int] = []

    def factory():
        started.append(1)
        return WorkerClient(python=str(tmp_path / "never-started"))

    panel = StylePanel(host, factory, thumbnail_dir=thumb_dir, compact=True, autostart=False)
    qtbot.addWidget(panel)
    elsewhere = QtWidgets.QLabel("another docker")
    qtbot.addWidget(elsewhere)
    elsewhere.show()
    panel.show()
    # The docker appears under a resting pointer: the window system sends it Enter (X11 when a window
    # is mapped; Qt 6 here, offscreen, when one is shown; Qt 5 offscreen does not, so it is sent here).
    where = QtCore.QPoint(20, 20)
    at, on_screen = QtCore.QPointF(where), QtCore.QPointF(panel.mapToGlobal(where))
    QtWidgets.QApplication.sendEvent(panel, QtGui.QEnterEvent(at, at, on_screen))
    qtbot.wait(300)
    assert started == [] and panel.idle and "starts when you use" in panel.status.text()
    qtbot.mouseMove(elsewhere, QtCore.QPoint(5, 5))  # the pointer moving elsewhere is no use of the panel
    qtbot.wait(100)
    assert started == []
    qtbot.mouseMove(panel.gallery.viewport(), QtCore.QPoint(30, 30))  # over the panel: now it starts
    qtbot.waitUntil(lambda: "could not start" in panel.status.text(), timeout=WAIT)
    assert started


class BigLayerHost(PictureHost):
    """A layer larger than the preview: the preview reads a reduced copy and says so, as Krita's host does."""

    def preview_image(self, max_side: int) -> Preview:
        h, w = self.pixels.shape[:2]
        im = Image.fromarray(self.pixels)
        im.thumbnail((max_side, max_side), Image.LANCZOS)
        scale = max(h, w) / max(im.width, im.height)
        copy = ImageData(np.asarray(im).tobytes(), im.width, im.height, image_side=max(h, w), pixel_scale=scale)
        return Preview(copy)


#: The preview against the result seen at the preview's size, measured with bench/quality.py (VGG
#: features, torch): by the engine's Python, since the Qt 6 run's has no torch. Prints the distance.
_PREVIEW_VS_RESULT = """
import sys
import numpy as np
from bench.quality import gram_distance, seen_at
preview, result = np.load(sys.argv[1]), np.load(sys.argv[2])
truth = seen_at(result, max(preview.shape[:2]))
np.save(sys.argv[3], truth)
print(gram_distance(preview, truth))
"""


def test_brush_size_control_and_a_preview_that_is_the_result(qtbot, client, thumb_dir, tmp_path):
    from bench.brush import kodak_collage

    photo = np.ascontiguousarray(np.dstack([kodak_collage(2, 2), np.full((1024, 1536), 255, np.uint8)]))
    host = BigLayerHost(photo, tmp_path)
    panel = make_panel(qtbot, client, host, thumb_dir)
    try:
        assert panel.brush_slider.value() == 100 and not panel.native_check.isChecked()
        assert panel.select_preset("mosaic")
        panel.brush_spin.setValue(200)
        assert panel.brush_slider.value() == 200 and panel.options().brush_size == 200
        panel.native_check.setChecked(True)
        assert panel.options().brush_size == "native" and not panel.brush_slider.isEnabled()
        panel.native_check.setChecked(False)
        panel.brush_spin.setValue(100)
        assert panel.options() == StylizeOptions.single("mosaic")
        panel.live_check.setChecked(False)  # one preview, on request
        panel.wait_idle(60)
        with qtbot.waitSignal(panel.previewUpdated, timeout=WAIT):
            panel.refresh_button.click()
        shown = panel.preview_box._image
        assert shown is not None
        shown = shown.convertToFormat(shown.Format.Format_RGB888)
        preview = np.frombuffer(shown.constBits().asstring(shown.sizeInBytes()), np.uint8)
        preview = preview.reshape(shown.height(), shown.bytesPerLine())[:, : shown.width() * 3]
        preview = preview.reshape(shown.height(), shown.width(), 3).astype(np.float32) / 255
        apply_and_wait(qtbot, panel)
        result = host.results[0][..., :3].astype(np.float32) / 255
        files = [tmp_path / name for name in ("preview.npy", "result.npy", "truth.npy")]
        np.save(files[0], preview)
        np.save(files[1], result)
        distance = float(in_engine_python("-c", _PREVIEW_VS_RESULT, *map(str, files)).split()[-1])
        truth = np.load(files[2])
        # the preview is the result seen at the preview's size: the same strokes, not bigger ones
        assert distance <= 0.15
        Image.fromarray((np.concatenate([preview, truth], 1) * 255).astype(np.uint8)).save(
            OUTPUT / "panel_preview_vs_result.png"
        )
    finally:
        panel.shutdown()
        panel.wait_idle(30)


# ---------------------------------------------------------------- a mix of styles, the style size


class RecordingClient:
    """The real client, and the options of every stylize request sent through it (Apply, previews, thumbnails)."""

    def __init__(self, client: WorkerClient) -> None:
        self.client = client
        self.sent: list[StylizeOptions] = []

    def stylize(self, pixels, width, height, fmt, stride, options, *args, **kwargs):
        self.sent.append(options)
        return self.client.stylize(pixels, width, height, fmt, stride, options, *args, **kwargs)

    def __getattr__(self, name):  # presets(), device(), …: the client's own
        return getattr(self.client, name)


def pixels_of(host: PictureHost, options: StylizeOptions, client: WorkerClient) -> np.ndarray:
    """The host's picture stylized with `options` straight through the client, as a reference."""
    h, w = host.pixels.shape[:2]
    data, *_ = client.stylize(host.pixels.tobytes(), w, h, "rgba8", w * 4, options)
    return np.frombuffer(bytes(data), np.uint8).reshape(h, w, 4)


def test_mix_and_style_size_reach_the_worker_and_paint(qtbot, client, host, thumb_dir):
    recorder = RecordingClient(client)
    panel = make_panel(qtbot, client, host, thumb_dir, factory=lambda: recorder)
    try:
        panel.wait_idle(WAIT / 1000)
        assert panel.select_preset("starry_night") and panel.add_to_mix()
        assert panel.select_preset("the_scream")
        with qtbot.waitSignal(panel.previewUpdated, timeout=WAIT):  # every control feeds the live preview
            panel.mix.add_button.click()
        weights = panel.findChildren(QtWidgets.QSpinBox, "painterly-mix-weight")
        assert [w.value() for w in weights] == [50, 50]
        weights[0].setValue(75)
        weights[1].setValue(25)
        panel.style_size_spin.setValue(384)
        assert panel.style_size_slider.value() == 384
        want = StylizeOptions(styles=("starry_night", "the_scream"), weights=(75.0, 25.0), style_size=384)
        assert panel.options() == want
        assert "mix of The Starry Night + The Scream" in panel.style_label.text()
        with qtbot.waitSignal(panel.previewUpdated, timeout=WAIT):
            pass
        preview = recorder.sent[-1]  # the preview's request: the same mix and style size, at its own scale
        assert (preview.styles, preview.weights, preview.style_size) == (want.styles, want.weights, 384)
        recorder.sent.clear()
        assert apply_and_wait(qtbot, panel) == "layer 1"
        assert [(o.styles, o.weights, o.style_size) for o in recorder.sent] == [(want.styles, want.weights, 384)]
        assert host.calls[-1][0] == StyleChoice("", "The Starry Night + The Scream", "mix")
        got = host.results[0].astype(int)
        assert np.abs(got - pixels_of(host, want, client)).max() <= 1, "the panel painted something else"
        # and each part counts: the weights, the style size, the second style
        for other in (
            replace(want, weights=(25.0, 75.0)),
            replace(want, style_size=256),
            StylizeOptions.single("starry_night", style_size=384),
        ):
            assert np.abs(got - pixels_of(host, other, client)).mean() > 2, f"{other} paints the same"
    finally:
        panel.shutdown()
        panel.wait_idle(30)


def test_refine_control_and_the_work_so_far_in_the_preview(qtbot, client, host, thumb_dir):
    recorder = RecordingClient(client)
    panel = make_panel(qtbot, client, host, thumb_dir, factory=lambda: recorder)
    try:
        panel.wait_idle(WAIT / 1000)
        assert panel.select_preset("candy")  # a network preset: nothing to optimize towards
        assert not panel.refine_check.isEnabled() and not panel.refine_steps_spin.isEnabled()
        panel.refine_check.setChecked(True)
        assert panel.options().refine_steps == 0 and not panel.refine_steps_spin.isEnabled()
        assert panel.select_preset("starry_night")
        assert panel.refine_check.isEnabled() and panel.refine_steps_spin.isEnabled()
        panel.refine_steps_spin.setValue(3)
        assert panel.options() == StylizeOptions.single("starry_night", refine_steps=3)
        recorder.sent.clear()
        with qtbot.waitSignal(panel.previewUpdated, timeout=WAIT):
            panel.update_preview()
        assert [o.refine_steps for o in recorder.sent] == [0], "the live preview is the fast pass"
        assert "before Refine" in panel.preview_caption.text()
        captions: list[str] = []
        panel.intermediateShown.connect(lambda: captions.append(panel.preview_caption.text()))
        recorder.sent.clear()
        assert apply_and_wait(qtbot, panel) == "layer 1"
        assert [o.refine_steps for o in recorder.sent] == [3]
        # the fast result, then the two sizes a 192-pixel picture is optimized at (136 and 192)
        assert len(captions) == 3 and all(c.startswith("Refining") for c in captions), captions
        shown = panel.preview_label.pixmap().toImage()
        assert not shown.isNull() and shown.width() > 100
        assert panel.preview_caption.text().startswith("Refined: the new layer holds the result")
        got = host.results[0].astype(int)
        assert np.abs(got - pixels_of(host, panel.options(), client)).max() <= 1, "Apply painted something else"
        fast = pixels_of(host, StylizeOptions.single("starry_night"), client)
        assert np.abs(got[..., :3] - fast[..., :3]).mean() > 1, "Refine changed nothing"
        assert np.array_equal(got[..., 3], host.pixels[..., 3])
    finally:
        panel.shutdown()
        panel.wait_idle(30)


def test_style_size_and_mix_controls_follow_the_style(qtbot, panel, monkeypatch):
    def style_size_enabled() -> bool:
        states = {w.isEnabled() for w in (panel.style_size_label, panel.style_size_slider, panel.style_size_spin)}
        assert len(states) == 1, "the style size's label, slider and box go together"
        return states.pop()

    assert panel.select_preset("candy")  # a network preset: no style image, no style size
    assert not style_size_enabled()
    panel.style_size_spin.setValue(512)
    assert panel.options().style_size == 256, "a network preset's request keeps the default"
    assert panel.select_preset("seaport") and style_size_enabled()
    assert panel.options().style_size == 512
    style = STYLES / "great_wave.jpg"
    monkeypatch.setattr(QtWidgets.QFileDialog, "getOpenFileName", lambda *a, **k: (str(style), ""))
    panel.file_button.click()
    assert style_size_enabled() and panel.add_to_mix()
    panel.layer_button.click()
    assert panel.choice.kind == "layer" and style_size_enabled()

    # the mix: Clear only with something in it, one style is no mix yet, two are
    mix = panel.mix
    assert mix.clear_button.isEnabled() and not mix.active and "one more" in mix.note.text()
    assert panel.options().styles == (panel.choice.style,)
    assert panel.add_to_mix() and mix.active and "paint with this mix" in mix.note.text()
    assert not panel.add_to_mix(), "the same style twice"
    assert "already in the mix" in mix.note.text() and len(mix.entries()) == 2
    assert panel.select_preset("candy")  # choosing a network preset now: the mix still paints
    assert style_size_enabled() and panel.options().styles == (str(style), mix.entries()[1][0].style)
    assert panel.options().weights == (50.0, 50.0) and panel.options().style_size == 512
    removes = panel.findChildren(QtWidgets.QToolButton, "painterly-mix-remove")
    assert len(removes) == 2
    removes[0].click()
    assert [c.kind for c, _ in mix.entries()] == ["layer"] and not mix.active
    assert not style_size_enabled() and panel.options() == StylizeOptions.single("candy", style_size=256)
    mix.clear_button.click()
    assert mix.entries() == [] and not mix.clear_button.isEnabled() and "two or more" in mix.note.text()


def test_a_network_preset_cannot_join_a_mix(qtbot, panel, host):
    assert panel.select_preset("starry_night") and panel.add_to_mix()
    assert panel.select_preset("mosaic")
    panel.mix.add_button.click()
    note = panel.mix.note.text()
    assert "“Mosaic” is a network preset" in note and "cannot be mixed" in note
    assert [c.style for c, _ in panel.mix.entries()] == ["starry_night"] and not panel.mix.active
    assert panel.options() == StylizeOptions.single("mosaic")

    # A worker that does not say which presets are networks: the mix goes out, and the engine's
    # refusal is what the panel shows, with nothing changed.
    panel.presets = [{k: v for k, v in p.items() if k != "method"} for p in panel.presets]
    assert panel.add_to_mix() and panel.mix.active
    with qtbot.waitSignal(panel.failed, timeout=WAIT) as blocker:
        panel.apply_button.click()
    code, message = blocker.args
    assert "network presets cannot be mixed" in message
    assert "network presets cannot be mixed" in panel.status.text() and panel.message_box.isVisible()
    assert host.results == [] and not panel.busy
    panel.message_box.close()


def cramped(panel: StylePanel) -> list[str]:
    """The panel's visible controls that got less height than they need, or overlap another one."""
    kinds = (QtWidgets.QAbstractButton, QtWidgets.QAbstractSpinBox, QtWidgets.QSlider, QtWidgets.QComboBox)
    controls = [
        w
        for w in panel.findChildren(QtWidgets.QWidget)
        if w.isVisibleTo(panel)
        and (isinstance(w, kinds) or (isinstance(w, QtWidgets.QLabel) and w.text()))
        and not isinstance(w.parent(), QtWidgets.QAbstractSpinBox)  # a spin box's own line edit
    ]
    out = []
    rects = {}
    for w in controls:
        wraps = isinstance(w, QtWidgets.QLabel) and w.wordWrap()
        need = w.heightForWidth(w.width()) if wraps else w.minimumSizeHint().height()
        if w is panel.preview_label:  # it shows what fits, down to its minimum
            need = w.minimumHeight()
        if w.height() < need:
            out.append(
                f"{type(w).__name__} {w.objectName() or getattr(w, 'text', lambda: '')()!r}: {w.height()} < {need}"
            )
        rects[w] = QtCore.QRect(w.mapTo(panel, QtCore.QPoint(0, 0)), w.size())
    for a in controls:
        for b in controls:
            if a is not b and not a.isAncestorOf(b) and not b.isAncestorOf(a) and id(a) < id(b):
                if rects[a].intersects(rects[b]):
                    out.append(f"{a.objectName() or type(a).__name__} overlaps {b.objectName() or type(b).__name__}")
    return out


def test_screenshots_of_every_control(qtbot, client, host, thumb_dir):
    """The dialog's panel and the docker's (compact) with a mix, for a person to look at."""
    from painterly_plugin.qt import QT_API

    screens = ROOT / "build" / "screens"
    screens.mkdir(parents=True, exist_ok=True)
    suffix = QT_API.lower().replace("pyqt", "qt")  # panel-qt5.png, panel-qt6.png
    dialog = make_panel(qtbot, client, host, thumb_dir)
    docker = StylePanel(host, lambda: client, thumbnail_dir=thumb_dir, compact=True, autostart=False)
    # as Krita's docker holds it (extension.PainterlyDocker): in a scroll area that gives it its width
    # and scrolls the height it needs
    scroll = QtWidgets.QScrollArea()
    scroll.setWidgetResizable(True)
    scroll.setFrameShape(QtWidgets.QFrame.Shape.NoFrame)
    scroll.setWidget(docker)
    scroll.resize(340, 700)
    qtbot.addWidget(scroll)
    try:
        docker.start()
        with qtbot.waitSignal(docker.presetsLoaded, timeout=WAIT):
            scroll.show()
        for panel in (dialog, docker):
            assert panel.select_preset("the_scream") and panel.add_to_mix()
            assert panel.select_preset("seaport") and panel.add_to_mix()
            panel.findChildren(QtWidgets.QSpinBox, "painterly-mix-weight")[0].setValue(70)
            panel.style_size_spin.setValue(320)
        for panel, name in ((dialog, "panel"), (docker, "docker")):
            qtbot.waitUntil(lambda p=panel: p.preview_label.pixmap() is not None and p.idle, timeout=WAIT)
            qtbot.waitUntil(lambda p=panel: not p.preview_label.pixmap().isNull(), timeout=WAIT)
            qtbot.wait(100)
            path = screens / f"{name}-{suffix}.png"
            assert panel.grab().save(str(path))
            assert cramped(panel) == [], name
    finally:
        docker.shutdown()
        docker.wait_idle(30)
        dialog.shutdown()
        dialog.wait_idle(30)


class AnimatedHost(PictureHost):
    """An editor whose layer is animated: Krita's “All frames” job (painterly_krita.animation) on
    frames given as Krita's raw BGRA, without Krita."""

    def __init__(self, frames: list[np.ndarray], folder: Path) -> None:
        super().__init__(frames[0], folder)
        self.frames = frames
        self.all_frames_calls: list[bool] = []

    def animation_frames(self) -> int | None:
        return len(self.frames)

    def begin_apply(self, choice: StyleChoice, options: StylizeOptions, all_frames: bool = False) -> ApplyJob:
        self.all_frames_calls.append(all_frames)
        if not all_frames:
            return super().begin_apply(choice, options)
        sys.path.insert(0, str(ROOT / "plugin" / "krita"))
        from painterly_krita import animation
        from painterly_krita.layers import Rect

        h, w = self.pixels.shape[:2]
        folder = self.folder / "animation"
        folder.mkdir()
        read = animation.AnimationRead(None, None, Rect(0, 0, w, h), "U8", list(range(len(self.frames))), folder)
        for i, frame in enumerate(self.frames):
            path = folder / f"in-{i:05d}.raw"
            path.write_bytes(np.ascontiguousarray(frame[..., [2, 1, 0, 3]]).tobytes())  # Krita's BGRA
            read.frames.append(path)

        def run(client, opts, progress, cancel):
            return (animation.stylize_frames(read, client, opts, 0.7, progress, cancel),)

        def finish(files):
            self.results = [np.asarray(Image.open(f).convert("RGBA")) for f in files]
            return f"{len(files)} frames"

        return ApplyJob(None, finish, f"{len(self.frames)} frames", read.cleanup, run=run)


@pytest.fixture
def animated(qtbot, client, thumb_dir, tmp_path):
    """A panel on an animated layer of four panned frames, candy chosen and All frames checked:
    (the host, the panel, the frames)."""
    photo = rgba(load_rgb("kodim08.png", (216, 128)))
    frames = [np.ascontiguousarray(photo[:, 3 * i : 3 * i + 192]) for i in range(4)]
    host = AnimatedHost(frames, tmp_path)
    panel = make_panel(qtbot, client, host, thumb_dir)
    try:
        panel.refresh_layers()
        assert panel.frames_check.isVisibleTo(panel) and panel.frames_check.text() == "All frames (4)"
        panel.select_preset("candy")
        panel.frames_check.setChecked(True)
        yield host, panel, frames
    finally:
        panel.shutdown()
        panel.wait_idle(30)


def test_all_frames_stylizes_an_animated_layer_as_one_clip(qtbot, client, animated, tmp_path):
    host, panel, frames = animated
    seen: list[tuple[float, str]] = []
    panel.progressChanged.connect(lambda f, s: seen.append((f, s)))
    assert apply_and_wait(qtbot, panel) == "4 frames"
    assert host.all_frames_calls == [True]
    assert len(host.results) == 4 and all(r.shape == frames[0].shape for r in host.results)
    for got, frame in zip(host.results, frames, strict=True):
        assert np.array_equal(got[..., 3], frame[..., 3])  # alpha kept
        assert np.abs(got[..., :3].astype(int) - frame[..., :3]).mean() > 15  # stylized
    stages = [s for _, s in seen]
    assert any(s.startswith("frame 1 of 4") for s in stages) and any(s.startswith("frame 4 of 4") for s in stages)
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    # the first frame of a clip has nothing before it: it is the still
    still, w, h, stride = client.stylize(frames[0].tobytes(), 192, 128, "rgba8", 192 * 4, panel.options())
    assert np.abs(host.results[0].astype(int) - np.frombuffer(still, np.uint8).reshape(128, 192, 4)).max() <= 1
    assert not (tmp_path / "animation").exists()  # the frames' folder is removed
    panel.frames_check.setChecked(False)  # unchecked: a still of the current frame
    apply_and_wait(qtbot, panel)
    assert host.all_frames_calls == [True, False]


def test_all_frames_is_hidden_for_a_layer_that_is_not_animated(qtbot, panel):
    panel.refresh_layers()
    assert not panel.frames_check.isVisibleTo(panel) and not panel.all_frames


def test_cancelling_all_frames_adds_nothing_and_leaves_no_files(qtbot, client, animated, tmp_path):
    host, panel, _ = animated
    pid = client.pid
    # Cancel once the second frame is under way: the first is done and written
    panel.progressChanged.connect(lambda f, s: panel.cancel() if s.startswith("frame 2 of 4") else None)
    with qtbot.waitSignal(panel.failed, timeout=WAIT) as blocker:
        panel.apply_button.click()
    assert blocker.args[0] == "cancelled"
    assert host.results == [] and "Cancelled" in panel.status.text() and not panel.busy
    assert not (tmp_path / "animation").exists()  # the frames' folder is removed
    assert client.pid == pid, "cancelling must not cost the worker"
