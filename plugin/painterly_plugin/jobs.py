"""The one job runner of the dialogs: blocking work off the GUI thread, its outcome back on it.

The panel (worker requests) and the preferences dialog (starting a test worker) use it.
Nothing blocking may run on the GUI thread (the editor would freeze), and a worker
serves one request at a time, so a runner runs its `Job`s one at a time, each on a
Python thread, in priority order (`PRIORITY`; first come first served within one).
Progress and the outcome are emitted as Qt signals from that thread; Qt queues them
onto the GUI thread, where the job's callbacks run.

Every submitted job gets exactly one outcome, `done(result)` or `error(exception)`,
on the GUI thread, unless the runner's owner is gone by then. Cancelling sets the
job's event: a running job's client then asks the worker to stop (the job ends with
`PainterlyCancelled`, or with its result if that crossed the cancel on the wire); a
queued one never starts and gets `PainterlyCancelled` at once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .client import PainterlyCancelled, Progress  # Progress: (fraction 0..1, stage)
from .qt import QtCore, Signal, is_deleted

__all__ = ["PRIORITY", "Job", "JobRunner", "Progress"]

#: Lower runs first. Apply is what the user waits for; the preset list (hello) comes before
#: what needs it; a preview before the gallery's thumbnails. A probe has no rival in its dialog.
PRIORITY: Mapping[str, int] = {"apply": 0, "hello": 1, "probe": 1, "preview": 2, "thumb": 3}


@dataclass(eq=False)  # identity, not equality: two identical requests are still two jobs
class Job:
    """One piece of blocking work. `run(client, progress, cancel)` runs on the job's thread."""

    kind: str  # a key of the runner's priorities: "apply", "hello", "preview", "thumb", "probe"
    run: Callable[[Any, Progress, threading.Event], Any]
    done: Callable[[Any], None]
    error: Callable[[BaseException], None]
    progress: Progress | None = None  # on the GUI thread; not called once the job is cancelled
    cancel: threading.Event = field(default_factory=threading.Event)
    payload: Any = None  # what the job is about (a preset's name, an ApplyJob), for its owner


class JobRunner(QtCore.QObject):
    """Runs `Job`s one at a time; create it on the GUI thread, as a child of the widget it serves.

    `client_factory` is called on each job's thread for the client that job's `run` gets
    (None: the jobs get None, and make what they need themselves).
    """

    # Emitted from job threads; connected to slots of this object, which lives on the GUI
    # thread, so Qt delivers them there.
    _progress = Signal(object, float, str)  # job, fraction, stage
    _finished = Signal(object, object, object)  # job, result, exception

    def __init__(
        self,
        client_factory: Callable[[], Any] | None = None,
        parent: QtCore.QObject | None = None,
        *,
        priorities: Mapping[str, int] = PRIORITY,
    ) -> None:
        super().__init__(parent)
        self._client_factory = client_factory
        self._priorities = priorities
        self._queue: list[Job] = []
        self._running: Job | None = None
        self._thread: threading.Thread | None = None
        self._progress.connect(self._on_progress)
        self._finished.connect(self._on_finished)

    # -- interface -----------------------------------------------------------------

    def submit(self, job: Job) -> Job:
        """Queue `job` (it starts now if nothing runs); returns it."""
        self._queue.append(job)
        self._queue.sort(key=lambda j: self._priorities[j.kind])  # stable: FIFO within a priority
        self._pump()
        return job

    def cancel(self, kind: str | None = None) -> None:
        """Stop every job of `kind` (every job when None): see the module's docstring."""
        if self._running is not None and kind in (None, self._running.kind):
            self._running.cancel.set()
        dropped = [j for j in self._queue if kind in (None, j.kind)]
        self._queue = [j for j in self._queue if j not in dropped]
        for job in dropped:  # after the queue is updated: a callback may submit a new job
            job.cancel.set()
            job.error(PainterlyCancelled())

    def pending(self, kind: str | None = None) -> list[Job]:
        """The running and queued jobs of `kind` (all when None), the running one first."""
        jobs = [self._running, *self._queue] if self._running is not None else list(self._queue)
        return [j for j in jobs if kind in (None, j.kind)]

    @property
    def idle(self) -> bool:
        """Nothing runs or is queued."""
        return self._running is None and not self._queue

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """Block (processing Qt events, so outcomes arrive) until idle; False on timeout. For scripts and tests."""
        if self.idle:
            return True
        deadline = QtCore.QDeadlineTimer(int(timeout * 1000))
        app = QtCore.QCoreApplication.instance()
        if app is None:  # no event loop could ever deliver the outcomes
            raise RuntimeError("wait_idle needs a Qt application")
        while not self.idle:
            if deadline.hasExpired():
                return False
            app.processEvents(QtCore.QEventLoop.ProcessEventsFlag.AllEvents, 50)
            if self._thread is not None:
                self._thread.join(0.01)
        return True

    # -- the thread and the way back -----------------------------------------------------

    def _pump(self) -> None:
        if self._running is not None or not self._queue:
            return
        job = self._running = self._queue.pop(0)
        progress_signal, finished_signal, factory = self._progress, self._finished, self._client_factory

        def progress(fraction: float, stage: str) -> None:
            try:
                progress_signal.emit(job, fraction, stage)
            except RuntimeError:  # the owner is gone; the job runs out unobserved
                pass

        def body() -> None:
            result = error = None
            try:
                if job.cancel.is_set():
                    raise PainterlyCancelled()
                result = job.run(factory() if factory is not None else None, progress, job.cancel)
            except BaseException as exc:  # noqa: BLE001 - every outcome goes back to the GUI thread
                error = exc
            try:
                finished_signal.emit(job, result, error)
            except RuntimeError:
                pass

        self._thread = threading.Thread(target=body, name=f"painterly-{job.kind}", daemon=True)
        self._thread.start()

    def _on_progress(self, job: Job, fraction: float, stage: str) -> None:
        if job.progress is not None and not job.cancel.is_set():
            job.progress(fraction, stage)

    def _on_finished(self, job: Job, result: Any, error: Any) -> None:
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
