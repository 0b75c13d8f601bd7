"""The shared Qt panel (Krita's dialog and docker show it) offscreen with pytest-qt, on a real worker.

The host here is a plain picture in memory standing in for the editor's layer; the
worker, the engine and the models are the real ones.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PyQt5.QtWidgets", reason="the Qt panel tests need PyQt5 (pip install -e '.[dev]')")
pytest.importorskip("pytestqt", reason="the Qt panel tests need pytest-qt (pip install -e '.[dev]')")

from painterly_common.options import StylizeOptions  # noqa: E402
from painterly_plugin import thumbnails  # noqa: E402
from painterly_plugin.client import WorkerClient  # noqa: E402
from painterly_plugin.host import ApplyJob, Host, HostError, ImageData, Preview, StyleChoice  # noqa: E402
from painterly_plugin.panel import StylePanel  # noqa: E402
from painterly_plugin.qt import QtWidgets  # noqa: E402
from PIL import Image  # noqa: E402

from .conftest import OUTPUT, STYLES, load_rgb  # noqa: E402

WAIT = 120_000  # ms; a cold worker start (torch import) on a busy 2-core machine


@pytest.fixture(scope="module")
def client(painterly_home):
    # Every preset's model, so the gallery can show every thumbnail (a few MB, from the mirror).
    from painterly import catalog, store

    for preset in catalog.presets().values():
        for model in preset.models:
            if not store.is_installed(model):
                store.install(model)
    with WorkerClient(python=sys.executable) as c:
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
    panel.show()
    qtbot.wait(300)
    assert started == [] and panel.idle and "starts when you use" in panel.status.text()
    panel.start()  # what entering the panel with the pointer (or Apply) does
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


def test_brush_size_control_and_a_preview_that_is_the_result(qtbot, client, thumb_dir, tmp_path):
    from bench.brush import kodak_collage
    from bench.quality import gram_distance, seen_at

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
        truth = seen_at(result, max(preview.shape[:2]))
        # the preview is the result seen at the preview's size: the same strokes, not bigger ones
        assert gram_distance(preview, truth) <= 0.15
        Image.fromarray((np.concatenate([preview, truth], 1) * 255).astype(np.uint8)).save(
            OUTPUT / "panel_preview_vs_result.png"
        )
    finally:
        panel.shutdown()
        panel.wait_idle(30)
