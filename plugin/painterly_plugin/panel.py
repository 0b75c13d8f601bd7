"""The Painterly panel: preset gallery, style sources, strength, preview, Apply/Cancel.

Shared by the Krita dialog and docker (and by any Qt host): the editor is
reached only through a `Host`, the worker only through a `WorkerClient`.

Nothing blocking ever runs on the GUI thread. Every request to the worker is a
`_Job` run on a Python thread, one at a time (the worker serves one request at
a time) in priority order: Apply, then the hello/preset list, then the
preview, then thumbnails. Progress and results come back through Qt signals,
which Qt queues onto the GUI thread. Cancel sets the job's event; the client
then asks the worker to stop.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from painterly_common.options import DEFAULT_STYLE, StylizeOptions
from painterly_common.protocol import E_UNKNOWN_STYLE

from . import thumbnails
from .client import PainterlyCancelled, PainterlyClientError
from .host import ApplyJob, Host, HostError, StyleChoice
from .jobs import Job, JobRunner, Progress
from .qt import Qt, QtCore, QtGui, QtWidgets, Signal
from .widgets import ICON, html_text, icon, on_checkerboard, placeholder_icon, soften, warning_box

__all__ = ["StylePanel", "soften"]  # soften: kept importable from here for older callers


PRESET_ROLE = Qt.ItemDataRole.UserRole


class StylePanel(QtWidgets.QWidget):
    """The whole Painterly UI in one widget; put it in a dialog or a docker."""

    applied = Signal(object)  # what ApplyJob.finish returned (Krita: the new node)
    failed = Signal(str, str)  # code, message (cancellations included, code "cancelled")
    progressChanged = Signal(float, str)
    presetsLoaded = Signal(list)
    previewUpdated = Signal()
    busyChanged = Signal(bool)

    def __init__(
        self,
        host: Host,
        client_factory: Callable[[], Any],
        parent: QtWidgets.QWidget | None = None,
        *,
        compact: bool = False,
        thumbnail_dir: Path | str | None = None,
        preview_side: int = 256,
        autostart: bool = True,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("painterly-panel")
        self.host = host
        self._client_factory = client_factory
        self._thumb_dir = Path(thumbnail_dir) if thumbnail_dir else thumbnails.cache_dir() / "thumbnails"
        self.preview_side = preview_side
        # False (the docker): the worker starts when the pointer enters the panel or on Apply, not
        # just because the docker is visible when the editor starts.
        self.autostart = autostart
        self.presets: list[dict[str, Any]] = []
        self.device = ""
        self.choice: StyleChoice | None = None
        self.last_error: tuple[str, str] | None = None
        self.message_box: QtWidgets.QMessageBox | None = None
        self._queue: list[_Job] = []
        self._running: _Job | None = None
        self._thread: threading.Thread | None = None
        self._apply_job: _Job | None = None
        self._started = False
        self._bridge = _Bridge(self)
        self._bridge.progress.connect(self._on_progress)
        self._bridge.finished.connect(self._on_finished)
        self._preview_timer = QtCore.QTimer(self)
        self._preview_timer.setSingleShot(True)
        self._preview_timer.setInterval(350)
        self._preview_timer.timeout.connect(self.update_preview)
        self._build(compact)
        self._set_busy(False)

    # -- layout ---------------------------------------------------------------------

    def _build(self, compact: bool) -> None:
        self.gallery = QtWidgets.QListWidget()
        self.gallery.setObjectName("painterly-gallery")
        self.gallery.setViewMode(QtWidgets.QListView.ViewMode.IconMode)
        self.gallery.setIconSize(QtCore.QSize(ICON, ICON))
        self.gallery.setGridSize(QtCore.QSize(ICON + 22, ICON + 44))  # room for two lines of name
        self.gallery.setResizeMode(QtWidgets.QListView.ResizeMode.Adjust)
        self.gallery.setMovement(QtWidgets.QListView.Movement.Static)
        self.gallery.setWrapping(True)
        self.gallery.setWordWrap(True)
        self.gallery.setSpacing(2)
        self.gallery.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.SingleSelection)
        self.gallery.setMinimumHeight(ICON + 52)
        self.gallery.setMinimumWidth(2 * (ICON + 22) + 24)
        self.gallery.currentItemChanged.connect(self._on_preset_selected)

        self.style_label = QtWidgets.QLabel()
        self.style_label.setObjectName("painterly-style-label")
        self.style_label.setWordWrap(True)
        self.credit_label = QtWidgets.QLabel()
        self.credit_label.setWordWrap(True)
        self.credit_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        font = self.credit_label.font()
        font.setPointSizeF(max(6.0, font.pointSizeF() * 0.85))
        self.credit_label.setFont(font)
        soften(self.credit_label)

        self.file_button = QtWidgets.QPushButton("Style from file…")
        self.file_button.setToolTip("Use any picture as the style (a painting, a texture, a photo)")
        self.file_button.clicked.connect(self._choose_file)
        sources = QtWidgets.QVBoxLayout() if compact else QtWidgets.QHBoxLayout()
        sources.addWidget(self.file_button)
        self.layer_combo = QtWidgets.QComboBox()
        self.layer_combo.setToolTip("A layer of this document to use as the style image")
        self.layer_combo.setMinimumContentsLength(4 if compact else 8)
        self.layer_combo.setSizeAdjustPolicy(QtWidgets.QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.layer_button = QtWidgets.QPushButton("Style from layer")
        self.layer_button.setToolTip("Use the chosen layer's pixels as the style image")
        self.layer_button.clicked.connect(self._choose_layer)
        if self.host.supports_layer_style:
            layer_row = QtWidgets.QHBoxLayout()
            layer_row.addWidget(self.layer_combo, 1)
            layer_row.addWidget(self.layer_button)
            if not compact:
                sources.addSpacing(8)
            sources.addLayout(layer_row, 1)
        else:
            self.layer_combo.hide()
            self.layer_button.hide()
            sources.addStretch(1)

        self.strength_slider = QtWidgets.QSlider(Qt.Orientation.Horizontal)
        self.strength_slider.setObjectName("painterly-strength")
        self.strength_slider.setRange(0, 100)
        self.strength_slider.setValue(100)
        self.strength_slider.setPageStep(10)
        self.strength_spin = QtWidgets.QSpinBox()
        self.strength_spin.setRange(0, 100)
        self.strength_spin.setValue(100)
        self.strength_spin.setSuffix(" %")
        self.strength_slider.valueChanged.connect(self.strength_spin.setValue)
        self.strength_spin.valueChanged.connect(self.strength_slider.setValue)
        self.strength_slider.valueChanged.connect(self.schedule_preview)
        strength = QtWidgets.QHBoxLayout()
        strength.addWidget(QtWidgets.QLabel("Strength"))
        strength.addWidget(self.strength_slider, 1)
        strength.addWidget(self.strength_spin)

        self.preserve_check = QtWidgets.QCheckBox("Preserve colours")
        self.preserve_check.setObjectName("painterly-preserve-color")
        self.preserve_check.setToolTip("Keep the picture's own colours; take only the style's brushwork and light")
        self.preserve_check.toggled.connect(self.schedule_preview)

        self.preview_label = QtWidgets.QLabel("No preview yet")
        self.preview_label.setObjectName("painterly-preview")
        self.preview_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        side = self.preview_side if not compact else min(self.preview_side, 160)
        self.preview_label.setMinimumSize(side, side * 3 // 4)
        self.preview_label.setFrameShape(QtWidgets.QFrame.Shape.StyledPanel)
        self.preview_label.setWordWrap(True)
        # Ignored: the fitted pixmap must not become the label's minimum size (the box could never shrink)
        self.preview_label.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored, QtWidgets.QSizePolicy.Policy.Ignored)
        self.preview_caption = QtWidgets.QLabel()
        self.preview_caption.setFont(font)
        soften(self.preview_caption)
        self.preview_caption.setWordWrap(True)
        self.live_check = QtWidgets.QCheckBox("Live preview")
        self.live_check.setChecked(True)
        self.live_check.setToolTip("Update the preview whenever a setting changes")
        self.live_check.toggled.connect(self.schedule_preview)
        self.refresh_button = QtWidgets.QToolButton()
        self.refresh_button.setText("Update")
        self.refresh_button.setToolTip("Read the picture again and update the preview")
        self.refresh_button.clicked.connect(self.update_preview)
        preview_bar = QtWidgets.QHBoxLayout()
        preview_bar.addWidget(self.live_check)
        preview_bar.addStretch(1)
        preview_bar.addWidget(self.refresh_button)
        preview_box = QtWidgets.QGroupBox("Preview")
        pv = QtWidgets.QVBoxLayout(preview_box)
        pv.addWidget(self.preview_label, 1)
        pv.addWidget(self.preview_caption)
        pv.addLayout(preview_bar)

        self.progress = QtWidgets.QProgressBar()
        self.progress.setObjectName("painterly-progress")
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.setFormat("")  # no "0%" while nothing runs
        self.progress.setTextVisible(True)
        self.status = QtWidgets.QLabel("Starting the Painterly engine…" if self.autostart
                                       else "The Painterly engine starts when you use this panel.")
        self.status.setObjectName("painterly-status")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.apply_button = QtWidgets.QPushButton("Apply")
        self.apply_button.setObjectName("painterly-apply")
        self.apply_button.setDefault(True)
        self.apply_button.setToolTip("Stylize the current layer (or selection) into a new layer above it")
        self.apply_button.clicked.connect(self.apply)
        self.cancel_button = QtWidgets.QPushButton("Cancel")
        self.cancel_button.setObjectName("painterly-cancel")
        self.cancel_button.setToolTip("Stop the running style transfer; nothing is changed")
        self.cancel_button.clicked.connect(self.cancel)
        buttons = QtWidgets.QHBoxLayout()
        if not compact:  # a narrow docker: the progress bar gets a row of its own
            buttons.addWidget(self.progress, 1)
        else:
            buttons.addStretch(1)
        buttons.addWidget(self.apply_button)
        buttons.addWidget(self.cancel_button)

        controls = QtWidgets.QVBoxLayout()
        controls.addWidget(self.gallery, 1)
        controls.addWidget(self.style_label)
        controls.addWidget(self.credit_label)
        controls.addLayout(sources)
        controls.addLayout(strength)
        controls.addWidget(self.preserve_check)

        root = QtWidgets.QVBoxLayout(self)
        if compact:
            root.addLayout(controls, 1)
            root.addWidget(preview_box, 1)
        else:
            top = QtWidgets.QHBoxLayout()
            top.addLayout(controls, 3)
            top.addWidget(preview_box, 2)
            root.addLayout(top, 1)
        root.addWidget(self.status)
        if compact:
            root.addWidget(self.progress)
        root.addLayout(buttons)
        self._update_style_label()

    # -- public API -------------------------------------------------------------------

    def start(self) -> None:
        """Start the worker and load the presets (in the background); idempotent."""
        if self._started and (self.presets or self._has_job("hello")):
            return
        self._started = True
        self.status.setText("Starting the Painterly engine…")
        self._submit(_Job("hello", _hello, self._on_hello, self._on_hello_error))

    def options(self) -> StylizeOptions:
        """What Apply (and the preview) sends: the chosen style, strength 0..1 and preserve colour."""
        return StylizeOptions.single(self.choice.style if self.choice else DEFAULT_STYLE,
                                     strength=self.strength_slider.value() / 100.0,
                                     preserve_color=self.preserve_check.isChecked())

    def select_preset(self, name: str) -> bool:
        for i in range(self.gallery.count()):
            item = self.gallery.item(i)
            if item.data(PRESET_ROLE) == name:
                self.gallery.setCurrentItem(item)
                return True
        return False

    def set_style(self, choice: StyleChoice) -> None:
        self.choice = choice
        if choice.kind != "preset":
            self.gallery.blockSignals(True)
            self.gallery.clearSelection()
            self.gallery.setCurrentItem(None)
            self.gallery.blockSignals(False)
            self.credit_label.setText("")
        self._update_style_label()
        self.schedule_preview()

    @property
    def busy(self) -> bool:
        """An Apply is queued or running."""
        return self._apply_job is not None

    @property
    def idle(self) -> bool:
        """Nothing at all is queued or running (previews and thumbnails included)."""
        return self._running is None and not self._queue

    def apply(self) -> None:
        """Stylize through the host into a new layer; returns at once, the result comes as `applied`."""
        if self.busy:
            return
        if not self._started:
            self.start()
        if self.choice is None:
            self._error("", "Choose a style first: a preset, a file or a layer.")
            return
        opts = self.options()
        try:
            job = self.host.begin_apply(self.choice, opts)
        except HostError as exc:
            self._error("host", str(exc))
            return
        img = job.image
        job.choice = self.choice

        def run(client: Any, progress: Callable[[float, str], None], cancel: threading.Event) -> Any:
            return client.stylize(img.pixels, img.width, img.height, img.fmt, img.stride, opts, img.mask,
                                  on_progress=progress, cancel_event=cancel)

        self._apply_job = _Job("apply", run, self._on_applied, self._on_apply_error,
                               progress=self._on_apply_progress, payload=job)
        # Apply goes first: a running preview stops; a running thumbnail (a fraction of a second)
        # finishes, queued ones wait until after Apply.
        for other in (self._running, *self._queue):
            if other is not None and other.kind == "preview":
                other.cancel.set()
        self._queue = [j for j in self._queue if j.kind != "preview"]
        self.last_error = None
        self.status.setText(f"Stylizing {job.describe}…" if job.describe else "Stylizing…")
        self.progress.setRange(0, 0)  # busy until the first progress message (model install, start-up)
        self._set_busy(True)
        self._submit(self._apply_job)

    def cancel(self) -> None:
        job = self._apply_job
        if job is None:
            return
        job.cancel.set()
        self.status.setText("Cancelling…")
        if job in self._queue:  # never started: finish it here
            self._queue.remove(job)
            self._on_finished(job, None, PainterlyCancelled())

    def update_preview(self) -> None:
        """Read the host's view/selection again and stylize it small (in the background)."""
        self._preview_timer.stop()
        if self.choice is None or not self._started:
            return
        try:
            preview = self.host.preview_image(self.preview_side)
        except HostError as exc:
            self._show_preview_text(str(exc))
            return
        opts = self.options()
        img = preview.image

        def run(client: Any, progress: Callable[[float, str], None], cancel: threading.Event) -> Any:
            return client.stylize(img.pixels, img.width, img.height, img.fmt, img.stride, opts, img.mask,
                                  cancel_event=cancel)

        for j in (self._running, *self._queue):
            if j is not None and j.kind == "preview":
                j.cancel.set()
        self._queue = [j for j in self._queue if j.kind != "preview"]
        self.preview_caption.setText((preview.caption + " — " if preview.caption else "") + "updating…")
        self._submit(_Job("preview", run, lambda r: self._on_preview(r, preview.caption), self._on_preview_error,
                          payload=preview))

    def shutdown(self) -> None:
        """Cancel whatever runs (the dialog or docker is going away)."""
        self._preview_timer.stop()
        for j in (self._running, *self._queue):
            if j is not None:
                j.cancel.set()
        self._queue.clear()

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """Block (processing Qt events) until no job runs or is queued. For scripts and tests."""
        deadline = QtCore.QDeadlineTimer(int(timeout * 1000))
        app = QtCore.QCoreApplication.instance()
        while not self.idle:
            if deadline.hasExpired():
                return False
            app.processEvents(QtCore.QEventLoop.ProcessEventsFlag.AllEvents, 50)
            if self._thread is not None:
                self._thread.join(0.01)
        return True

    # -- Qt events --------------------------------------------------------------------

    def showEvent(self, event: Any) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        if self.autostart:
            self.start()
        if self.presets:
            self.refresh_layers()
            self.schedule_preview()

    def enterEvent(self, event: Any) -> None:  # noqa: N802
        super().enterEvent(event)
        self.start()

    def hideEvent(self, event: Any) -> None:  # noqa: N802
        super().hideEvent(event)
        self._preview_timer.stop()
        for j in (self._running, *self._queue):
            if j is not None and j.kind == "preview":
                j.cancel.set()
        self._queue = [j for j in self._queue if j.kind != "preview"]

    # -- the job queue ------------------------------------------------------------------

    def _has_job(self, kind: str) -> bool:
        return any(j is not None and j.kind == kind for j in (self._running, *self._queue))

    def _submit(self, job: _Job) -> None:
        self._queue.append(job)
        self._queue.sort(key=lambda j: j.priority)  # stable: FIFO within a priority
        self._pump()

    def _pump(self) -> None:
        if self._running is not None or not self._queue:
            return
        job = self._running = self._queue.pop(0)
        bridge = self._bridge

        def progress(fraction: float, stage: str) -> None:
            try:
                bridge.progress.emit(job, fraction, stage)
            except RuntimeError:  # the panel is gone; the job runs out unobserved
                pass

        def body() -> None:
            result = error = None
            try:
                if job.cancel.is_set():
                    raise PainterlyCancelled()
                result = job.run(self._client_factory(), progress, job.cancel)
            except BaseException as exc:  # noqa: BLE001 - every outcome goes back to the GUI thread
                error = exc
            try:
                bridge.finished.emit(job, result, error)
            except RuntimeError:
                pass

        self._thread = threading.Thread(target=body, name=f"painterly-{job.kind}", daemon=True)
        self._thread.start()

    def _on_progress(self, job: _Job, fraction: float, stage: str) -> None:
        if job.progress is not None and not job.cancel.is_set():
            job.progress(fraction, stage)

    def _on_finished(self, job: _Job, result: Any, error: Any) -> None:
        if self._running is job:
            self._running = None
            self._thread = None
        try:
            if is_deleted(self):
                return
            if error is not None:
                job.error(error)
            else:
                job.done(result)
        finally:
            if not is_deleted(self):
                self._pump()

    # -- hello and the gallery ------------------------------------------------------------

    def _on_hello(self, result: Any) -> None:
        presets, device = result
        self.presets = [p for p in presets if isinstance(p, dict) and p.get("name")]
        self.device = device
        self.gallery.clear()
        for preset in self.presets:
            item = QtWidgets.QListWidgetItem(_placeholder_icon(preset), _preset_label(preset))
            item.setData(PRESET_ROLE, preset["name"])
            item.setToolTip(_preset_tooltip(preset))
            item.setTextAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
            self.gallery.addItem(item)
            self._load_or_make_thumbnail(preset, item)
        if not self.busy:
            self.status.setText(f"Ready — the engine runs on {device}." if device else "Ready.")
        if self.choice is None and self.presets:
            self.select_preset(self.presets[0]["name"])
        self.refresh_layers()
        self.presetsLoaded.emit(list(self.presets))
        self.schedule_preview()

    def _on_hello_error(self, exc: BaseException) -> None:
        self._started = False  # showing the panel again (or Apply) retries
        message = str(exc) or type(exc).__name__
        self.status.setText(f"<b>The Painterly engine could not start.</b> {_html(message)}")
        self.last_error = (getattr(exc, "code", "error"), message)

    def _load_or_make_thumbnail(self, preset: dict[str, Any], item: QtWidgets.QListWidgetItem) -> None:
        path = thumbnails.thumbnail_path(preset["name"], self._thumb_dir)
        if path.is_file():
            image = QtGui.QImage(str(path))
            if not image.isNull():
                item.setIcon(_icon(image))
                return
        if not preset.get("installed", True):
            item.setToolTip(item.toolTip() + "\n\nNot installed yet: the model is fetched on first use.")
            return  # no download just for a thumbnail; made after the first Apply installs it
        self._make_thumbnail(preset["name"])

    def _make_thumbnail(self, name: str) -> None:
        if any(j.kind == "thumb" and j.payload == name for j in (self._running, *self._queue) if j is not None):
            return

        def run(client: Any, progress: Callable[[float, str], None], cancel: threading.Event) -> Any:
            size = thumbnails.SIZE
            return client.stylize(thumbnails.sample_picture(size, size), size, size, "rgba8", size * 4,
                                  StylizeOptions.single(name), cancel_event=cancel)

        self._submit(_Job("thumb", run, lambda r: self._on_thumbnail(name, r), lambda e: None, payload=name))

    def _on_thumbnail(self, name: str, result: Any) -> None:
        data, w, h, stride = result
        image = QtGui.QImage(bytes(data), w, h, stride, QtGui.QImage.Format.Format_RGBA8888).copy()
        path = thumbnails.thumbnail_path(name, self._thumb_dir)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp.png")
            if image.save(str(tmp), "PNG"):
                tmp.replace(path)
        except OSError:
            pass  # a read-only cache only costs a regeneration next time
        for i in range(self.gallery.count()):
            item = self.gallery.item(i)
            if item.data(PRESET_ROLE) == name:
                item.setIcon(_icon(image))

    def thumbnails_pending(self) -> bool:
        return self._has_job("thumb")

    def _on_preset_selected(self, current: Any, previous: Any = None) -> None:
        if current is None:
            return
        name = current.data(PRESET_ROLE)
        preset = next((p for p in self.presets if p["name"] == name), {"name": name})
        self.choice = StyleChoice(name, str(preset.get("display_name") or name), "preset")
        credit = []
        if preset.get("licence"):
            credit.append(f"Licence: {preset['licence']}.")
        if preset.get("attribution"):
            credit.append(str(preset["attribution"]))
        self.credit_label.setText(" ".join(credit))
        self._update_style_label()
        self.schedule_preview()

    def _update_style_label(self) -> None:
        if self.choice is None:
            self.style_label.setText("<b>Style:</b> choose a preset, a file or a layer")
            return
        kind = {"file": "image file", "layer": "layer"}.get(self.choice.kind)
        suffix = f" <i>({kind})</i>" if kind else ""
        self.style_label.setText(f"<b>Style:</b> {_html(self.choice.label)}{suffix}")

    # -- style sources --------------------------------------------------------------------

    def _choose_file(self) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(
            self, "Choose a style image", "", "Images (*.png *.jpg *.jpeg *.webp *.tif *.tiff *.bmp);;All files (*)"
        )
        if path:
            self.set_style(StyleChoice(path, Path(path).stem, "file"))

    def refresh_layers(self) -> None:
        if not self.host.supports_layer_style:
            return
        current = self.layer_combo.currentData()
        self.layer_combo.clear()
        try:
            layers = self.host.style_layers()
        except HostError:
            layers = []
        for key, label in layers:
            self.layer_combo.addItem(label, key)
        if current is not None:
            index = self.layer_combo.findData(current)
            if index >= 0:
                self.layer_combo.setCurrentIndex(index)
        self.layer_button.setEnabled(bool(layers))

    def _choose_layer(self) -> None:
        key = self.layer_combo.currentData()
        if key is None:
            self._error("host", "There is no layer to use as the style.")
            return
        try:
            choice = self.host.style_from_layer(key)
        except HostError as exc:
            self._error("host", str(exc))
            return
        self.set_style(choice)

    # -- preview ----------------------------------------------------------------------------

    def schedule_preview(self, *args: Any) -> None:
        if self.live_check.isChecked() and self.isVisible() and self.choice is not None and self.presets:
            self._preview_timer.start()

    def _on_preview(self, result: Any, caption: str = "") -> None:
        data, w, h, stride = result
        image = QtGui.QImage(bytes(data), w, h, stride, QtGui.QImage.Format.Format_RGBA8888).copy()
        self._preview_image = _on_checkerboard(image)
        self._show_preview_image()
        self.preview_caption.setText(caption)
        self.previewUpdated.emit()

    _preview_image: QtGui.QImage | None = None

    def _show_preview_image(self) -> None:
        """The preview fitted to its box: scaled down, or up at most 2× (it is a low-resolution preview)."""
        image = self._preview_image
        if image is None or image.isNull():
            return
        box = self.preview_label.contentsRect().size()
        scale = min(box.width() / image.width(), box.height() / image.height(), 2.0)
        size = QtCore.QSize(max(1, int(image.width() * scale)), max(1, int(image.height() * scale)))
        self.preview_label.setPixmap(QtGui.QPixmap.fromImage(
            image.scaled(size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)))

    def resizeEvent(self, event: Any) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._show_preview_image()

    def _on_preview_error(self, exc: BaseException) -> None:
        if isinstance(exc, PainterlyCancelled):
            return
        code = getattr(exc, "code", "")
        if code == E_UNKNOWN_STYLE and self.choice is not None and self.choice.kind != "preset":
            self._show_preview_text(_style_image_message(str(exc)))
        else:
            self._show_preview_text(str(exc))

    def _show_preview_text(self, text: str) -> None:
        self._preview_image = None
        self.preview_label.setPixmap(QtGui.QPixmap())
        self.preview_label.setText(text)
        self.preview_caption.setText("")

    # -- apply ----------------------------------------------------------------------------------

    def _on_apply_progress(self, fraction: float, stage: str) -> None:
        if self.progress.maximum() == 0:
            self.progress.setRange(0, 1000)
        self.progress.setValue(round(max(0.0, min(1.0, fraction)) * 1000))
        self.progress.setFormat(f"{stage} %p%" if stage else "%p%")
        self.progressChanged.emit(fraction, stage)

    def _on_applied(self, result: Any) -> None:
        apply_job: ApplyJob = self._apply_job.payload
        cancelled = self._apply_job.cancel.is_set()
        self._apply_job = None
        try:
            if cancelled:  # the result crossed the cancel on the wire: honour the cancel
                self._cancelled()
                return
            data, w, h, stride = result
            try:
                made = apply_job.finish(data, w, h, stride)
            except HostError as exc:
                self._error("host", str(exc))
                return
            except Exception as exc:  # noqa: BLE001 - an editor API failure must not kill the panel
                self._error("internal", f"Could not add the new layer: {type(exc).__name__}: {exc}")
                return
            self.progress.setRange(0, 1000)
            self.progress.setValue(1000)
            self.progress.setFormat("done")
            name = getattr(made, "name", None)
            label = name() if callable(name) else None
            self.status.setText(f"Added the layer “{_html(label)}”." if label else "Done.")
            choice = apply_job.choice
            if choice is not None and choice.kind == "preset":  # its model is installed now
                if not thumbnails.thumbnail_path(choice.style, self._thumb_dir).is_file():
                    self._make_thumbnail(choice.style)
            self.applied.emit(made)
        finally:
            self._set_busy(False)
            if apply_job.cleanup:
                apply_job.cleanup()
            self.refresh_layers()

    def _on_apply_error(self, exc: BaseException) -> None:
        apply_job: ApplyJob = self._apply_job.payload
        self._apply_job = None
        try:
            if isinstance(exc, PainterlyCancelled):
                self._cancelled()
            elif isinstance(exc, PainterlyClientError):
                msg = str(exc)
                if exc.code == E_UNKNOWN_STYLE and self.choice is not None and self.choice.kind != "preset":
                    msg = _style_image_message(msg)
                self._error(exc.code, msg)
            else:
                self._error("internal", f"{type(exc).__name__}: {exc}")
        finally:
            self._set_busy(False)
            if apply_job.cleanup:
                apply_job.cleanup()

    def _cancelled(self) -> None:
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.setFormat("cancelled")
        self.status.setText("Cancelled — nothing was changed.")
        self.last_error = ("cancelled", "Cancelled.")
        self.failed.emit("cancelled", "Cancelled.")

    def _error(self, code: str, message: str) -> None:
        self.last_error = (code, message)
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.setFormat("")
        self.status.setText(f"<span style='color:#c0392b'>{_html(message)}</span>")
        box = QtWidgets.QMessageBox(QtWidgets.QMessageBox.Icon.Warning, "Painterly", message,
                                    QtWidgets.QMessageBox.StandardButton.Ok, self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()  # window-modal but not blocking: the editor keeps running
        self.message_box = box
        self.failed.emit(code, message)

    def _set_busy(self, busy: bool) -> None:
        self.apply_button.setEnabled(not busy)
        self.cancel_button.setEnabled(busy)
        self.file_button.setEnabled(not busy)
        self.layer_button.setEnabled(not busy and self.layer_combo.count() > 0)
        if not busy and self.progress.maximum() == 0:
            self.progress.setRange(0, 1000)
        if busy:
            self.progress.setValue(0)
            self.progress.setFormat("%p%")
        self.busyChanged.emit(busy)


# -- jobs' bodies (run on the job thread) -------------------------------------------------


def _hello(client: Any, progress: Callable[[float, str], None], cancel: threading.Event) -> Any:
    return client.presets(), client.device()


# -- little helpers ------------------------------------------------------------------------------


def _html(text: Any) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\n", "<br>")


def _preset_label(preset: dict[str, Any]) -> str:
    return str(preset.get("display_name") or preset["name"])


def _preset_tooltip(preset: dict[str, Any]) -> str:
    lines = [_preset_label(preset)]
    if preset.get("method"):
        lines.append({"network": "Fast feed-forward network", "arbitrary": "Arbitrary style (reference image)"}
                     .get(str(preset["method"]), str(preset["method"])))
    if preset.get("licence"):
        lines.append(f"Licence: {preset['licence']}")
    if preset.get("attribution"):
        lines.append(str(preset["attribution"]))
    return "\n".join(lines)


def _style_image_message(worker_message: str) -> str:
    return ("This Painterly engine cannot use an image as the style yet; choose a preset instead.\n\n"
            f"The engine said: {worker_message}")


def _icon(image: QtGui.QImage) -> QtGui.QIcon:
    scaled = image.scaled(ICON, ICON, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
    return QtGui.QIcon(QtGui.QPixmap.fromImage(scaled))


def soften(label: QtWidgets.QLabel, amount: float = 0.35) -> None:
    """Secondary text: the text colour moved `amount` of the way to the background (any theme)."""
    pal = label.palette()
    fg = pal.color(QtGui.QPalette.ColorRole.WindowText)
    bg = pal.color(QtGui.QPalette.ColorRole.Window)
    keep = 1.0 - amount
    mixed = QtGui.QColor(round(fg.red() * keep + bg.red() * amount), round(fg.green() * keep + bg.green() * amount),
                         round(fg.blue() * keep + bg.blue() * amount))
    pal.setColor(QtGui.QPalette.ColorRole.WindowText, mixed)
    label.setPalette(pal)


def _placeholder_icon(preset: dict[str, Any]) -> QtGui.QIcon:
    """A neutral tile with the preset's initial, shown until the real thumbnail exists."""
    pix = QtGui.QPixmap(ICON, ICON)
    pix.fill(Qt.GlobalColor.transparent)
    painter = QtGui.QPainter(pix)
    painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
    painter.setPen(QtGui.QPen(QtGui.QColor(150, 150, 150), 1.0))
    painter.setBrush(QtGui.QColor(128, 128, 128, 40))
    painter.drawRoundedRect(QtCore.QRectF(1.5, 1.5, ICON - 3, ICON - 3), 8, 8)
    font = painter.font()
    font.setPixelSize(ICON // 2)
    font.setBold(True)
    painter.setFont(font)
    painter.setPen(QtGui.QColor(128, 128, 128, 160))
    painter.drawText(QtCore.QRectF(0, 0, ICON, ICON), _preset_label(preset)[:1].upper(),
                     QtGui.QTextOption(Qt.AlignmentFlag.AlignCenter))
    painter.end()
    return QtGui.QIcon(pix)


def _on_checkerboard(image: QtGui.QImage) -> QtGui.QImage:
    """The image over a grey checkerboard, so transparency reads as transparency."""
    out = QtGui.QImage(image.size(), QtGui.QImage.Format.Format_RGB32)
    painter = QtGui.QPainter(out)
    tile = QtGui.QPixmap(16, 16)
    tile.fill(QtGui.QColor(204, 204, 204))
    tp = QtGui.QPainter(tile)
    tp.fillRect(0, 0, 8, 8, QtGui.QColor(153, 153, 153))
    tp.fillRect(8, 8, 8, 8, QtGui.QColor(153, 153, 153))
    tp.end()
    painter.drawTiledPixmap(out.rect(), tile)
    painter.drawImage(0, 0, image)
    painter.end()
    return out
