"""The Painterly panel: preset gallery, style sources, a mix of styles, strength, brush and style
size, preview, Apply/Cancel.

Shared by the Krita dialog and docker (and by any Qt host): the editor is
reached only through a `Host`, the worker only through a `WorkerClient`.

Nothing blocking ever runs on the GUI thread. Every request to the worker is a
job of the panel's `jobs.JobRunner`: one at a time (the worker serves one request
at a time) in priority order: Apply, then the hello/preset list, then the
preview, then thumbnails; progress and results arrive on the GUI thread. Cancel
sets the job's event; the client then asks the worker to stop.

The editor's side of the contract (`Host`, `StyleChoice`, `ApplyJob`…) is in
`host.py`; the gallery (`gallery.py`), the mix of styles (`mix.py`) and the preview
box (`preview.py`) are widgets of their own, which the panel fills from its jobs' results.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from painterly_common import brush, style_kinds
from painterly_common.options import (
    DEFAULT_BRUSH_SIZE,
    DEFAULT_REFINE_STEPS,
    DEFAULT_STYLE,
    DEFAULT_STYLE_SIZE,
    MAX_BRUSH_SIZE,
    MAX_REFINE_STEPS,
    MAX_STYLE_SIZE,
    MIN_BRUSH_SIZE,
    MIN_STYLE_SIZE,
    NATIVE,
    StylizeOptions,
)
from painterly_common.protocol import E_UNKNOWN_STYLE

from . import thumbnails
from .client import PainterlyCancelled, PainterlyClientError
from .gallery import PRESET_ROLE, GalleryFilter, PresetGallery
from .host import ApplyJob, Host, HostError, ImageData, StyleChoice
from .jobs import Job, JobRunner, Progress
from .mix import StyleMix
from .preview import PreviewBox
from .qt import Qt, QtCore, QtGui, QtWidgets, Signal
from .widgets import html_text, slider_pair, soften, warning_box

PREVIEW_WORK_SIDE = brush.PREVIEW_WORK_SIDE  # the name scripts and tests know

#: What counts as using the panel with the pointer, for a panel that starts the worker on use. Not
#: Enter: the window system sends Enter to the widget under a resting pointer when its window
#: appears (X11 on mapping a window, Qt 6 on showing one), so it would start the worker as the
#: editor opens with the pointer over the docker.
_POINTER_USE = frozenset(
    {
        QtCore.QEvent.Type.MouseMove,
        QtCore.QEvent.Type.MouseButtonPress,
        QtCore.QEvent.Type.Wheel,
        QtCore.QEvent.Type.TabletMove,
        QtCore.QEvent.Type.TabletPress,
    }
)


class StylePanel(QtWidgets.QWidget):
    """The whole Painterly UI in one widget; put it in a dialog or a docker."""

    applied = Signal(object)  # what ApplyJob.finish returned (Krita: the new node)
    failed = Signal(str, str)  # code, message (cancellations included, code "cancelled")
    progressChanged = Signal(float, str)
    presetsLoaded = Signal(list)
    previewUpdated = Signal()
    busyChanged = Signal(bool)
    intermediateShown = Signal()  # the preview shows a picture of a running Refine's work so far
    _intermediate = Signal(object, object)  # job, QImage: from the Apply's thread to the GUI thread

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
        self._thumb_dir = Path(thumbnail_dir) if thumbnail_dir else thumbnails.cache_dir() / "thumbnails"
        self.preview_side = preview_side
        # False (the docker): the worker starts when the pointer moves over the panel or on Apply,
        # not just because the docker is visible when the editor starts.
        self.autostart = autostart
        self._watching_pointer = False
        self.presets: list[dict[str, Any]] = []
        self.device = ""
        self.choice: StyleChoice | None = None
        self.last_error: tuple[str, str] | None = None
        self.message_box: QtWidgets.QMessageBox | None = None
        self._jobs = JobRunner(client_factory, self)
        self._apply_job: Job | None = None
        self._showing_intermediate = False  # the preview shows a running Refine's work, not the settings
        self._started = False
        self._preview_timer = QtCore.QTimer(self)
        self._preview_timer.setSingleShot(True)
        self._preview_timer.setInterval(350)
        self._preview_timer.timeout.connect(self.update_preview)
        self._intermediate.connect(self._on_intermediate)
        self._build(compact)
        self._set_busy(False)

    # -- layout ---------------------------------------------------------------------

    def _build(self, compact: bool) -> None:
        self.gallery = PresetGallery(self._thumb_dir)
        self.gallery.currentItemChanged.connect(self._on_preset_selected)
        self.gallery_filter = GalleryFilter(self.gallery)

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

        self.strength_slider, self.strength_spin = slider_pair(100)
        self.strength_slider.setObjectName("painterly-strength")
        tip = "How much of the style the new layer takes: 0 % is the picture unchanged, 100 % the full style"
        self.strength_slider.setToolTip(tip)
        self.strength_spin.setToolTip(tip)
        self.strength_slider.valueChanged.connect(self.schedule_preview)

        self.brush_slider, self.brush_spin = slider_pair(DEFAULT_BRUSH_SIZE, MIN_BRUSH_SIZE, MAX_BRUSH_SIZE, 25)
        self.brush_slider.setObjectName("painterly-brush-size")
        self.brush_spin.setObjectName("painterly-brush-size-value")
        tip = (
            "The size of the strokes, the same at any picture size: 100 % paints a layer as if it were "
            "1024 pixels across, 200 % with strokes twice as large, 50 % half as large"
        )
        self.brush_slider.setToolTip(tip)
        self.brush_spin.setToolTip(tip)
        self.brush_slider.valueChanged.connect(self.schedule_preview)
        self.native_check = QtWidgets.QCheckBox("Native")
        self.native_check.setObjectName("painterly-brush-native")
        self.native_check.setToolTip(
            "Paint at the layer's own resolution: the strokes keep their size in pixels, so a big "
            "layer gets many small strokes (and takes longer)"
        )
        self.native_check.toggled.connect(self.brush_slider.setDisabled)
        self.native_check.toggled.connect(self.brush_spin.setDisabled)
        self.native_check.toggled.connect(self.schedule_preview)

        self.style_size_slider, self.style_size_spin = slider_pair(
            DEFAULT_STYLE_SIZE, MIN_STYLE_SIZE, MAX_STYLE_SIZE, 64, " px"
        )
        self.style_size_slider.setObjectName("painterly-style-size")
        self.style_size_spin.setObjectName("painterly-style-size-value")
        tip = (
            "The size the style image is read at: smaller takes its patterns larger and bolder, larger "
            "takes more of its fine detail. Only for styles with a style image: painting presets, style "
            "files, layers and mixes (a network preset's strokes are fixed)"
        )
        self.style_size_slider.setToolTip(tip)
        self.style_size_spin.setToolTip(tip)
        self.style_size_slider.valueChanged.connect(self.schedule_preview)
        self.style_size_label = QtWidgets.QLabel("Style size")

        # One grid, so the three sliders start and end in line. In a narrow docker each slider gets
        # a row of its own under its name and box: beside them it was 40 pixels long at 340 wide.
        sliders = QtWidgets.QGridLayout()
        rows = (
            (QtWidgets.QLabel("Strength"), self.strength_slider, self.strength_spin, None),
            (QtWidgets.QLabel("Brush size"), self.brush_slider, self.brush_spin, self.native_check),
            (self.style_size_label, self.style_size_slider, self.style_size_spin, None),
        )
        for row, (label, slider, spin, extra) in enumerate(rows):
            if compact:
                sliders.addWidget(label, 2 * row, 0)
                sliders.addWidget(spin, 2 * row, 2)
                sliders.addWidget(slider, 2 * row + 1, 0, 1, 4)
            else:
                sliders.addWidget(label, row, 0)
                sliders.addWidget(slider, row, 1)
                sliders.addWidget(spin, row, 2)
            if extra is not None:
                sliders.addWidget(extra, 2 * row if compact else row, 3)
        sliders.setColumnStretch(1, 1)

        self.preserve_check = QtWidgets.QCheckBox("Preserve colours")
        self.preserve_check.setObjectName("painterly-preserve-color")
        self.preserve_check.setToolTip("Keep the picture's own colours; take only the style's brushwork and light")
        self.preserve_check.toggled.connect(self.schedule_preview)

        self.frames_check = QtWidgets.QCheckBox("All frames")
        self.frames_check.setObjectName("painterly-all-frames")
        self.frames_check.setToolTip(
            "Stylize every frame of the animation's playback range as one clip, into a new animated layer: "
            "the strokes move with the picture from frame to frame instead of flickering"
        )
        self.frames_check.setVisible(False)  # only for an animated layer (`refresh_layers`)

        self.refine_check = QtWidgets.QCheckBox("Refine (slow, best quality)")
        self.refine_check.setObjectName("painterly-refine")
        tip = (
            "After the fast pass, optimize the picture towards the painting (Gatys et al.'s method): "
            "closer to the painting's texture and colours, but minutes instead of seconds on a CPU. "
            "The preview shows the fast result; during Apply it shows the work so far. Only for styles "
            "with a style image: painting presets, style files, layers and mixes"
        )
        self.refine_check.setToolTip(tip)
        self.refine_check.toggled.connect(self.schedule_preview)
        self.refine_steps_spin = QtWidgets.QSpinBox()
        self.refine_steps_spin.setObjectName("painterly-refine-steps")
        self.refine_steps_spin.setRange(1, MAX_REFINE_STEPS)
        self.refine_steps_spin.setValue(DEFAULT_REFINE_STEPS)
        self.refine_steps_spin.setSingleStep(25)
        self.refine_steps_spin.setSuffix(" steps")
        self.refine_steps_spin.setToolTip("More steps come closer to the painting and take longer")
        self.refine_check.toggled.connect(lambda _on: self._update_style_controls())  # steps only while Refine is on
        refine_row = QtWidgets.QHBoxLayout()
        refine_row.addWidget(self.refine_check)
        refine_row.addWidget(self.refine_steps_spin)
        refine_row.addStretch(1)

        self.mix = StyleMix()
        self.mix.addRequested.connect(self._add_chosen_to_mix)
        self.mix.changed.connect(self._on_mix_changed)

        side = self.preview_side if not compact else min(self.preview_side, 160)
        preview_box = self.preview_box = PreviewBox(side, font)
        # the box's parts, under the names scripts and tests know
        self.preview_label, self.preview_caption = preview_box.label, preview_box.caption
        self.live_check, self.refresh_button = preview_box.live_check, preview_box.refresh_button
        self.live_check.toggled.connect(self.schedule_preview)
        self.refresh_button.clicked.connect(self.update_preview)

        self.progress = QtWidgets.QProgressBar()
        self.progress.setObjectName("painterly-progress")
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.setFormat("")  # no "0%" while nothing runs
        self.progress.setTextVisible(True)
        self.status = QtWidgets.QLabel(
            "Starting the Painterly engine…"
            if self.autostart
            else "The Painterly engine starts when you use this panel."
        )
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
        controls.addWidget(self.gallery_filter)
        controls.addWidget(self.gallery, 1)
        controls.addWidget(self.style_label)
        controls.addWidget(self.credit_label)
        controls.addLayout(sources)
        controls.addLayout(sliders)
        controls.addWidget(self.preserve_check)
        controls.addWidget(self.frames_check)
        controls.addLayout(refine_row)

        # The mix under the preview: beside the controls in the dialog, so neither column outgrows
        # an 800×600 window; after the preview in the docker, whose scroll area takes the height.
        root = QtWidgets.QVBoxLayout(self)
        if compact:
            root.addLayout(controls, 1)
            root.addWidget(preview_box, 1)
            root.addWidget(self.mix)
        else:
            right = QtWidgets.QVBoxLayout()
            right.addWidget(preview_box, 1)
            right.addWidget(self.mix)
            top = QtWidgets.QHBoxLayout()
            top.addLayout(controls, 3)
            top.addLayout(right, 2)
            root.addLayout(top, 1)
        root.addWidget(self.status)
        if compact:
            root.addWidget(self.progress)
        root.addLayout(buttons)
        self._update_style_label()
        self._update_style_controls()

    # -- public API -------------------------------------------------------------------

    def start(self) -> None:
        """Start the worker and load the presets (in the background); idempotent."""
        self._watch_pointer(False)
        if self._started and (self.presets or self._jobs.pending("hello")):
            return
        self._started = True
        self.status.setText("Starting the Painterly engine…")
        self._jobs.submit(Job("hello", _hello, self._on_hello, self._on_hello_error))

    def options(self) -> StylizeOptions:
        """What Apply (and the preview) sends: the chosen style, or the mix of two or more with their
        weights; strength 0..1, brush size, style size and Refine (for styles with a style image),
        preserve colour."""
        if self.mix.active:
            entries = self.mix.entries()
            styles = tuple(choice.style for choice, _ in entries)
            weights: tuple[float, ...] | None = tuple(float(weight) for _, weight in entries)
        else:
            styles, weights = (self.choice.style if self.choice else DEFAULT_STYLE,), None
        return StylizeOptions(
            styles=styles,
            weights=weights,
            strength=self.strength_slider.value() / 100.0,
            preserve_color=self.preserve_check.isChecked(),
            style_size=self.style_size_slider.value() if self.has_style_image() else DEFAULT_STYLE_SIZE,
            brush_size=NATIVE if self.native_check.isChecked() else self.brush_slider.value(),
            refine_steps=self.refine_steps(),
        )

    def refine_steps(self) -> int:
        """The Refine steps Apply asks for: 0 when Refine is off or the style has no style image."""
        if not (self.refine_check.isChecked() and self.has_style_image()):
            return 0
        return self.refine_steps_spin.value()

    def has_style_image(self) -> bool:
        """The style Apply would use is read from style images (a mix of paintings, a painting preset,
        a file, a layer), so the style size and Refine apply; a network preset and the looks have none."""
        if self.mix.active:
            return all(style_kinds.has_style_image(self.method_of(choice)) for choice, _ in self.mix.entries())
        return self.choice is not None and style_kinds.has_style_image(self.method_of(self.choice))

    def method_of(self, choice: StyleChoice) -> str | None:
        """The style's method (`painterly_common.style_kinds`): a file or a layer is read as a painting
        is; a preset has the worker's `method`; None for a preset the worker did not describe."""
        if choice.kind != "preset":
            return style_kinds.ARBITRARY
        return style_kinds.method_of(choice.style, self.presets)

    def add_to_mix(self, choice: StyleChoice | None = None) -> bool:
        """Add `choice` (the chosen style when None) to the mix; False, with a note under the mix
        saying why, when it cannot be mixed."""
        choice = choice or self.choice
        if choice is None:
            self.mix.refuse("Choose a style first: a painting preset, a file or a layer.")
            return False
        if choice.kind == "mix":
            self.mix.refuse("That is the mix itself: add single styles to it.")
            return False
        if self.method_of(choice) == style_kinds.NETWORK:
            self.mix.refuse(
                f"“{choice.label}” is a network preset: it paints with a network of its own and has no "
                "style image, so it cannot be mixed. Mix painting presets, style files and layers, or looks."
            )
            return False
        styles = [*(c for c, _ in self.mix.entries()), choice]
        refusal = style_kinds.mix_refusal([(f"“{c.label}”", self.method_of(c)) for c in styles])
        if refusal:
            self.mix.refuse(refusal)
            return False
        return self.mix.add(choice)

    def _add_chosen_to_mix(self) -> None:  # the Add button (a slot returns nothing)
        self.add_to_mix()

    def request_choice(self) -> StyleChoice | None:
        """What Apply is asked to paint with, for naming the new layer: the mix when it is active
        (its styles travel in the options), else the chosen style."""
        if self.mix.active:
            return StyleChoice("", self.mix.describe(), "mix")
        return self.choice

    def select_preset(self, name: str) -> bool:
        """Choose the preset `name` (as a click in the gallery does); False when there is none of that
        name. The gallery's filter is cleared when it hides that preset."""
        if self.gallery.is_hidden(name):
            self.gallery_filter.clear()
        return self.gallery.select(name)

    def set_style(self, choice: StyleChoice) -> None:
        self.choice = choice
        if choice.kind != "preset":
            self.gallery.blockSignals(True)
            self.gallery.clearSelection()
            self.gallery.setCurrentItem(None)
            self.gallery.blockSignals(False)
            self.credit_label.setText("")
            self.credit_label.setToolTip("")
        self._update_style_label()
        self._update_style_controls()
        self.schedule_preview()

    @property
    def busy(self) -> bool:
        """An Apply is queued or running."""
        return self._apply_job is not None

    @property
    def idle(self) -> bool:
        """Nothing at all is queued or running (previews and thumbnails included)."""
        return self._jobs.idle

    def apply(self) -> None:
        """Stylize through the host into a new layer; returns at once, the result comes as `applied`."""
        if self.busy:
            return
        if not self._started:
            self.start()
        choice = self.request_choice()
        if choice is None:
            self._error("", "Choose a style first: a preset, a file or a layer.")
            return
        opts = self.options()
        try:
            if self.all_frames:
                job = self.host.begin_apply(choice, opts, all_frames=True)
            else:
                job = self.host.begin_apply(choice, opts)
        except HostError as exc:
            self._error("host", str(exc))
            return
        img = job.image
        job.choice = choice
        intermediate_signal = self._intermediate

        def run(client: Any, progress: Progress, cancel: threading.Event) -> Any:
            if job.run is not None:  # the host makes the requests (an animation's frames)
                return job.run(client, opts, progress, cancel)
            assert img is not None  # an ApplyJob without `run` has its picture

            def show(data: bytearray, w: int, h: int, stride: int) -> None:  # on this (the job's) thread
                picture = QtGui.QImage(bytes(data), w, h, stride, QtGui.QImage.Format.Format_RGBA8888).copy()
                try:
                    intermediate_signal.emit(this_job, picture)
                except RuntimeError:  # the panel is gone; the job runs out unobserved
                    pass

            return client.stylize(
                img.pixels,
                img.width,
                img.height,
                img.fmt,
                img.stride,
                img.request(opts),
                img.mask,
                on_progress=progress,
                cancel_event=cancel,
                on_intermediate=show if opts.refine_steps else None,
            )

        this_job = self._apply_job = Job(
            "apply", run, self._on_applied, self._on_apply_error, progress=self._on_apply_progress, payload=job
        )
        # Apply goes first: a running preview stops; a running thumbnail (a fraction of a second)
        # finishes, queued ones wait until after Apply.
        self._jobs.cancel("preview")
        self.last_error = None
        self.status.setText(f"Stylizing {job.describe}…" if job.describe else "Stylizing…")
        self.progress.setRange(0, 0)  # busy until the first progress message (model install, start-up)
        self._set_busy(True)
        self._jobs.submit(self._apply_job)

    def cancel(self) -> None:
        """Stop the Apply (a queued one ends at once, a running one when the worker has stopped)."""
        if self._apply_job is None:
            return
        self.status.setText("Cancelling…")
        self._jobs.cancel("apply")

    def update_preview(self) -> None:
        """Read the host's view/selection again and stylize it small (in the background)."""
        self._preview_timer.stop()
        self.refresh_frames()  # the layer may have changed
        if self.request_choice() is None or not self._started:
            return
        try:
            preview = self.host.preview_image(self.preview_side)
            # The network paints the preview at the working size the brush sets (about 1024 pixels at
            # 100 %), whatever the box's size: read the layer at that size, so it paints the layer's
            # real detail and not an enlarged small copy's blur (which gave other strokes: Gram 0.20
            # from the result seen small, against 0.04 read at the working size)
            side = max(preview.image.width, preview.image.height)
            need = min(self._working_side(preview.image), PREVIEW_WORK_SIDE)
            if need > side * 1.05:
                preview = self.host.preview_image(need)
        except HostError as exc:
            self.preview_box.show_text(str(exc))
            return
        img = preview.image
        opts = img.request(self.options())
        caption = preview.caption
        if opts.refine_steps:  # minutes, not the live preview's second: the preview is the fast pass
            opts = replace(opts, refine_steps=0)
            caption += (", " if caption else "") + "before Refine (Apply shows its progress here)"
        if self._network_side(img) > PREVIEW_WORK_SIDE * 1.05:  # the truth takes as long as Apply: larger strokes
            opts = replace(opts, max_side=PREVIEW_WORK_SIDE)
            caption += (", " if caption else "") + "with larger strokes than the result (too big to preview)"

        def run(client: Any, progress: Progress, cancel: threading.Event) -> Any:
            return client.stylize(
                img.pixels, img.width, img.height, img.fmt, img.stride, opts, img.mask, cancel_event=cancel
            )

        self._jobs.cancel("preview")  # only the newest picture and settings are worth showing
        self.preview_caption.setText((caption + " — " if caption else "") + "updating…")
        self._jobs.submit(
            Job("preview", run, lambda r: self._on_preview(r, caption), self._on_preview_error, payload=preview)
        )

    def _network_side(self, image: ImageData) -> float:
        """The long side, in pixels, at which the network paints what `image` shows."""
        side = max(image.width, image.height)
        opts = image.request(self.options())
        return brush.network_scale(side, side, opts.brush_size, opts.image_side, opts.pixel_scale) * side

    def _working_side(self, image: ImageData) -> int:
        """The side to read the layer at for `image` (a reduced copy): the network's side, but never
        more than the layer's own pixels there."""
        return int(min(self._network_side(image), image.pixel_scale * max(image.width, image.height)))

    def shutdown(self) -> None:
        """Cancel whatever runs (the dialog or docker is going away)."""
        self._preview_timer.stop()
        self._jobs.cancel()

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """Block (processing Qt events) until no job runs or is queued. For scripts and tests."""
        return self._jobs.wait_idle(timeout)

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
        # The pointer is over the panel, or the panel appeared under it: only a movement, click or
        # wheel turn from here on is a use (`_POINTER_USE`). Watched from Enter to Leave only, so the
        # editor's other events never pass through Python.
        if not self._started:
            self._watch_pointer(True)

    def leaveEvent(self, event: Any) -> None:  # noqa: N802
        super().leaveEvent(event)
        self._watch_pointer(False)

    def hideEvent(self, event: Any) -> None:  # noqa: N802
        super().hideEvent(event)
        self._watch_pointer(False)
        self._preview_timer.stop()
        self._jobs.cancel("preview")  # nobody would see it

    def eventFilter(self, watched: Any, event: Any) -> bool:  # noqa: N802 - Qt's name
        """While watching (the pointer is over the panel, the worker not started): the first use of
        the pointer on the panel or any of its widgets starts the worker. Never consumes the event."""
        if (
            event.type() in _POINTER_USE
            and isinstance(watched, QtWidgets.QWidget)
            and (watched is self or self.isAncestorOf(watched))
        ):
            self._watch_pointer(False)
            self.start()
        return False

    def _watch_pointer(self, on: bool) -> None:
        # On the application: a move over a child widget without mouse tracking reaches only the
        # application's event filters, never the child's or the panel's own.
        app = QtWidgets.QApplication.instance()
        if app is None or on == self._watching_pointer:
            return
        self._watching_pointer = on
        if on:
            app.installEventFilter(self)
        else:
            app.removeEventFilter(self)

    # -- hello and the gallery ------------------------------------------------------------

    def _on_hello(self, result: Any) -> None:
        presets, device = result
        self.presets = [p for p in presets if isinstance(p, dict) and p.get("name")]
        self.device = device
        for name in self.gallery.show_presets(self.presets):
            self._make_thumbnail(name)
        self.gallery_filter.update_groups(self.presets)
        if not self.busy:
            self.status.setText(f"Ready — the engine runs on {device}." if device else "Ready.")
        if self.choice is None and self.presets:
            self.select_preset(self.presets[0]["name"])
        self._update_style_controls()  # the presets' methods are known now
        self.refresh_layers()
        self.presetsLoaded.emit(list(self.presets))
        self.schedule_preview()

    def _on_hello_error(self, exc: BaseException) -> None:
        self._started = False  # showing the panel again (or Apply) retries
        message = str(exc) or type(exc).__name__
        self.status.setText(f"<b>The Painterly engine could not start.</b> {html_text(message)}")
        self.last_error = (getattr(exc, "code", "error"), message)

    def _make_thumbnail(self, name: str) -> None:
        if any(j.payload == name for j in self._jobs.pending("thumb")):
            return

        def run(client: Any, progress: Progress, cancel: threading.Event) -> Any:
            size = thumbnails.SIZE
            return client.stylize(
                thumbnails.sample_picture(size, size),
                size,
                size,
                "rgba8",
                size * 4,
                # a swatch of the style's strokes, not a preview of a picture: painted at its own size
                StylizeOptions.single(name, brush_size=NATIVE),
                cancel_event=cancel,
            )

        self._jobs.submit(Job("thumb", run, lambda r: self._on_thumbnail(name, r), lambda e: None, payload=name))

    def _on_thumbnail(self, name: str, result: Any) -> None:
        data, w, h, stride = result
        image = QtGui.QImage(bytes(data), w, h, stride, QtGui.QImage.Format.Format_RGBA8888).copy()
        self.gallery.set_thumbnail(name, image)

    def thumbnails_pending(self) -> bool:
        return bool(self._jobs.pending("thumb"))

    def _on_preset_selected(self, current: Any, previous: Any = None) -> None:
        if current is None:
            return
        name = current.data(PRESET_ROLE)
        preset = next((p for p in self.presets if p["name"] == name), {"name": name})
        self.choice = StyleChoice(name, str(preset.get("display_name") or name), "preset")
        credit = []
        if preset.get("licence"):
            credit.append(f"Licence: {preset['licence']}.")
        attribution = str(preset.get("attribution") or "")
        # A painting preset credits the painting first, then the shared Magenta models ("; "-joined):
        # the label shows the painting's line, the tooltip all of them (in full, six lines pushed the
        # controls under the gallery in an 800×600 dialog).
        self.credit_label.setText(" ".join([*credit, attribution.split("; ")[0]]).strip())
        self.credit_label.setToolTip("\n".join([*credit, *attribution.split("; ")]).strip())
        self._update_style_label()
        self._update_style_controls()
        self.schedule_preview()

    def _update_style_label(self) -> None:
        if self.mix.active:
            self.style_label.setText(f"<b>Style:</b> mix of {html_text(self.mix.describe())}")
            return
        if self.choice is None:
            self.style_label.setText("<b>Style:</b> choose a preset, a file or a layer")
            return
        kind = {"file": "image file", "layer": "layer"}.get(self.choice.kind)
        suffix = f" <i>({kind})</i>" if kind else ""
        self.style_label.setText(f"<b>Style:</b> {html_text(self.choice.label)}{suffix}")

    def _update_style_controls(self) -> None:
        """The style size and Refine only for a style read from style images (see `has_style_image`)."""
        usable = self.has_style_image()
        for widget in (self.style_size_label, self.style_size_slider, self.style_size_spin, self.refine_check):
            widget.setEnabled(usable)
        self.refine_steps_spin.setEnabled(usable and self.refine_check.isChecked())

    def _on_mix_changed(self) -> None:
        self._update_style_label()
        self._update_style_controls()
        self.schedule_preview()

    # -- style sources --------------------------------------------------------------------

    def _choose_file(self) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(
            self, "Choose a style image", "", "Images (*.png *.jpg *.jpeg *.webp *.tif *.tiff *.bmp);;All files (*)"
        )
        if path:
            self.set_style(StyleChoice(path, Path(path).stem, "file"))

    @property
    def all_frames(self) -> bool:
        """Apply stylizes every frame of the animated layer (“All frames”, shown only for one)."""
        return self.frames_check.isVisibleTo(self) and self.frames_check.isChecked()

    def refresh_frames(self) -> None:
        """Show “All frames” (with the number of frames) while the layer is animated."""
        try:
            frames = self.host.animation_frames()
        except HostError:
            frames = None
        self.frames_check.setVisible(frames is not None)
        if frames is not None:
            self.frames_check.setText(f"All frames ({frames})")

    def refresh_layers(self) -> None:
        self.refresh_frames()
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
        if self.live_check.isChecked() and self.isVisible() and self.request_choice() is not None and self.presets:
            self._preview_timer.start()

    def _on_preview(self, result: Any, caption: str = "") -> None:
        data, w, h, stride = result
        image = QtGui.QImage(bytes(data), w, h, stride, QtGui.QImage.Format.Format_RGBA8888).copy()
        self.preview_box.show_image(image, caption)
        self.previewUpdated.emit()

    def _on_intermediate(self, job: Job, picture: QtGui.QImage) -> None:
        if job is not self._apply_job or job.cancel.is_set():
            return  # a late picture of an Apply that ended or was cancelled
        self._preview_timer.stop()
        self._showing_intermediate = True
        self.preview_box.show_image(picture, "Refining: the work so far (Apply adds the result as a new layer)")
        self.intermediateShown.emit()

    def _end_intermediates(self, finished: bool) -> None:
        """After an Apply that showed Refine's work in the preview: say what the picture is now, or
        (cancelled, failed) go back to the preview of the settings."""
        if not self._showing_intermediate:
            return
        self._showing_intermediate = False
        if finished:
            self.preview_caption.setText("Refined: the new layer holds the result, at full size")
        else:
            self.update_preview()

    def _on_preview_error(self, exc: BaseException) -> None:
        if isinstance(exc, PainterlyCancelled):
            return
        code = getattr(exc, "code", "")
        if code == E_UNKNOWN_STYLE and self.choice is not None and self.choice.kind != "preset":
            self.preview_box.show_text(_style_image_message(str(exc)))
        else:
            self.preview_box.show_text(str(exc))

    # -- apply ----------------------------------------------------------------------------------

    def _on_apply_progress(self, fraction: float, stage: str) -> None:
        if self.progress.maximum() == 0:
            self.progress.setRange(0, 1000)
        self.progress.setValue(round(max(0.0, min(1.0, fraction)) * 1000))
        self.progress.setFormat(f"{stage} %p%" if stage else "%p%")
        self.progressChanged.emit(fraction, stage)

    def _on_applied(self, result: Any) -> None:
        job, self._apply_job = self._apply_job, None
        assert job is not None  # the runner reports each job once: this is the Apply it was given
        apply_job: ApplyJob = job.payload
        cancelled, added = job.cancel.is_set(), False
        try:
            if cancelled:  # the result crossed the cancel on the wire: honour the cancel
                self._cancelled()
                return
            try:
                made = apply_job.finish(*result)  # (pixels, w, h, stride), or what the job's `run` returned
            except HostError as exc:
                self._error("host", str(exc))
                return
            except Exception as exc:  # noqa: BLE001 - an editor API failure must not kill the panel
                self._error("internal", f"Could not add the new layer: {type(exc).__name__}: {exc}")
                return
            added = True
            self.progress.setRange(0, 1000)
            self.progress.setValue(1000)
            self.progress.setFormat("done")
            name = getattr(made, "name", None)
            label = name() if callable(name) else None
            self.status.setText(f"Added the layer “{html_text(label)}”." if label else "Done.")
            choice = apply_job.choice
            if choice is not None and choice.kind == "preset":  # its model is installed now
                if not self.gallery.thumbnail_path(choice.style).is_file():
                    self._make_thumbnail(choice.style)
            self.applied.emit(made)
        finally:
            self._set_busy(False)
            if apply_job.cleanup:
                apply_job.cleanup()
            self.refresh_layers()
            self._end_intermediates(finished=added)

    def _on_apply_error(self, exc: BaseException) -> None:
        job, self._apply_job = self._apply_job, None
        assert job is not None  # as in _on_applied
        apply_job: ApplyJob = job.payload
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
            self._end_intermediates(finished=False)

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
        self.status.setText(f"<span style='color:#c0392b'>{html_text(message)}</span>")
        self.message_box = warning_box(self, "Painterly", message)
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


def _hello(client: Any, progress: Progress, cancel: threading.Event) -> Any:
    return client.presets(), client.device()


# -- little helpers ------------------------------------------------------------------------------


def _style_image_message(worker_message: str) -> str:
    return (
        "This Painterly engine cannot use an image as the style yet; choose a preset instead.\n\n"
        f"The engine said: {worker_message}"
    )
