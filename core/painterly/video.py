"""Video files in and out, a frame at a time, through PyAV (FFmpeg): the optional `video` extra.

Reading demuxes the file once, in order: video packets are decoded into RGB frames as the
stylizer asks for them (`VideoReader.frames`), and the audio stream's packets are handed to the
writer as they come (`on_audio`), so the output is interleaved as the input was and nothing is
held but a frame or two, whatever the clip's length. Audio is copied as it is when the output's
container can hold its codec, else re-encoded to the container's own (AAC for MP4, Opus for WebM).
The frames keep their timestamps (a variable frame rate stays variable), shifted so that the
output starts at 0; `--start/--end` keep the frames and audio packets whose time is in the range.

The output is written to a temporary file that replaces the target only when complete
(`painterly_common.files.write_atomic`): a stop, an error or a full disk leaves nothing behind.
A file whose frames end well before its header's duration is truncated: an error, no output.
"""

from __future__ import annotations

import math
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from painterly_common.files import os_error_message, write_atomic

from .errors import BadImageError, PainterlyError

#: what PyAV writes, by extension: (FFmpeg's format, the video codec and its options)
WRITABLE_VIDEO: dict[str, tuple[str, str, dict[str, str]]] = {
    ".mp4": ("mp4", "libx264", {"crf": "18", "preset": "medium"}),
    ".m4v": ("mp4", "libx264", {"crf": "18", "preset": "medium"}),
    ".mov": ("mov", "libx264", {"crf": "18", "preset": "medium"}),
    ".mkv": ("matroska", "libx264", {"crf": "18", "preset": "medium"}),
    ".webm": ("webm", "libvpx-vp9", {"crf": "24", "b": "0", "deadline": "good", "cpu-used": "4", "row-mt": "1"}),
}
#: read as video (and so stylized as one clip): these and whatever else FFmpeg reads, by extension
VIDEO_EXTENSIONS = frozenset({*WRITABLE_VIDEO, ".avi", ".mpg", ".mpeg", ".ts", ".m2ts", ".mts", ".wmv", ".flv", ".ogv"})
#: frames missing at the end before a file counts as truncated (containers round their durations)
TRUNCATION_SLACK_FRAMES = 2


def is_video(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in VIDEO_EXTENSIONS


def require_av() -> Any:
    try:
        import av
    except ImportError:
        raise PainterlyError(
            "video files need PyAV: pip install 'painterly[video]' (or pip install av), then try again"
        ) from None
    return av


@dataclass(frozen=True)
class VideoInfo:
    width: int
    height: int
    rate: Fraction  # frames a second (the stream's average)
    duration: float | None  # seconds, from the container's header (None: it does not say)
    frames: int | None  # in the range asked for, estimated (None: unknown)
    audio: str | None  # the audio codec, or None without audio


def parse_time(text: str) -> float:
    """Seconds from '12.5', '1:02.5' or '1:00:02.5'."""
    try:
        parts = [float(p) for p in text.strip().split(":")]
    except ValueError:
        parts = []
    if not 1 <= len(parts) <= 3 or any(not math.isfinite(p) or p < 0 for p in parts):
        raise PainterlyError(f"a time must be seconds (12.5) or [hours:]minutes:seconds (1:02.5), got '{text}'")
    seconds = 0.0
    for p in parts:
        seconds = seconds * 60 + p
    return seconds


class VideoReader:
    """One video file, opened for reading (a context manager)."""

    def __init__(self, path: str | os.PathLike, start: float | None = None, end: float | None = None) -> None:
        av = require_av()
        self.path = Path(path)
        if start is not None and end is not None and end <= start:
            raise PainterlyError(f"--end ({end:g} s) must come after --start ({start:g} s)")
        self.start, self.end = start or 0.0, end
        if not self.path.is_file():
            what = "is not a file" if self.path.exists() else "no such file"
            raise BadImageError(f"{self.path}: {what}")
        self._errors = (OSError, av.error.FFmpegError)
        try:
            self._container = av.open(str(self.path), "r")
        except self._errors as exc:  # unreadable, not a video, corrupt, cut short before its index
            raise BadImageError(f"{self.path}: cannot read it as a video ({_brief(exc)})") from None
        streams = self._container.streams
        if not streams.video:
            self._container.close()
            raise BadImageError(f"{self.path} has no video stream: give a video file, or the frames as images")
        self._video = streams.video[0]
        self._audio = streams.audio[0] if streams.audio else None
        ctx = self._video.codec_context
        if not ctx.width or not ctx.height:
            self._container.close()
            raise BadImageError(f"{self.path}: its video stream has no picture size: the file is damaged")
        self.info = self._info(ctx.width, ctx.height)
        if start is not None and self.info.duration is not None and start >= self.info.duration:
            self._container.close()
            raise PainterlyError(f"--start {start:g} s is past the end of {self.path} ({self.info.duration:.2f} s)")
        self.last_time: float | None = None  # the last frame's time, once read

    def _info(self, width: int, height: int) -> VideoInfo:
        v = self._video
        rate = Fraction(v.average_rate) if v.average_rate else Fraction(v.guessed_rate or 25)
        duration = None
        if v.duration is not None and v.time_base is not None:
            duration = float(v.duration * v.time_base)
        elif self._container.duration is not None:
            duration = self._container.duration / 1_000_000
        frames = None
        if duration is not None:
            span = min(duration, self.end if self.end is not None else duration) - self.start
            frames = max(0, round(span * float(rate)))
        elif v.frames and not self.start and self.end is None:
            frames = int(v.frames)
        audio = None if self._audio is None else self._audio.codec_context.name
        return VideoInfo(width, height, rate, duration, frames, audio)

    @property
    def video_stream(self) -> Any:
        return self._video

    @property
    def audio_stream(self) -> Any:
        return self._audio

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self._container.close()

    def frames(self, on_audio: Callable[[Any], None] | None = None) -> Iterator[tuple[np.ndarray, int]]:
        """(HxWx3 uint8 RGB, its time in the video stream's time base from the range's start) per frame
        in the range; the audio packets in the range go to `on_audio` as the file gives them."""
        v, a = self._video, self._audio
        streams = [v] if a is None or on_audio is None else [v, a]
        if self.start > 0:
            self._container.seek(int(self.start * 1_000_000), backward=True)  # to the key frame before
        start_pts = round(self.start / v.time_base) if self.start else None
        first_pts: int | None = None
        try:
            for packet in self._container.demux(streams):
                if packet.stream is a:
                    if packet.pts is not None and self._in_range(float(packet.pts * a.time_base)):
                        assert on_audio is not None
                        on_audio(packet)
                    continue
                for frame in packet.decode():
                    if frame.pts is None:
                        continue
                    seconds = float(frame.pts * v.time_base)
                    if seconds < self.start - 1e-6:
                        continue
                    if self.end is not None and seconds >= self.end:
                        return
                    if first_pts is None:
                        first_pts = frame.pts if start_pts is None else min(frame.pts, start_pts)
                    self.last_time = seconds
                    yield frame.to_ndarray(format="rgb24"), frame.pts - first_pts
        except self._errors as exc:
            raise BadImageError(f"{self.path}: the video cannot be decoded ({_brief(exc)})") from None
        self._check_complete()

    def _in_range(self, seconds: float) -> bool:
        """Whether an audio packet at `seconds` belongs to the range: from the start on (all before
        the end when the range starts at 0: AAC's first packet has a negative time, its priming)."""
        return (not self.start or seconds >= self.start - 1e-6) and (self.end is None or seconds < self.end)

    def _check_complete(self) -> None:
        """A file whose frames stop well before the duration its header gives was cut short."""
        info = self.info
        if info.duration is None:
            return
        last_expected = min(info.duration, self.end if self.end is not None else info.duration)
        slack = TRUNCATION_SLACK_FRAMES / float(info.rate)
        if self.last_time is None or self.last_time + 1 / float(info.rate) < last_expected - slack:
            got = "no frame" if self.last_time is None else f"frames up to {self.last_time:.2f} s"
            raise BadImageError(
                f"{self.path} is truncated or damaged: it has {got}, but says it lasts {info.duration:.2f} s"
            )


def is_complete(path: str | os.PathLike, source: str | os.PathLike) -> bool:
    """Whether `path` is a finished result of the video `source` (`--resume`): a video of the
    source's frame size with frames up to the end its header gives. `write_video` only ever
    renames a finished file into place, so this refuses what else may have that name."""
    try:
        with VideoReader(source) as src:
            size = src.info.width, src.info.height
        with VideoReader(path) as out:
            if (out.info.width, out.info.height) != size:
                return False
            for _ in out.frames(None):  # decoded to its end: refused if cut short
                pass
        return True
    except PainterlyError:
        return False


def write_video(
    path: str | os.PathLike,
    reader: VideoReader,
    stylize: Callable[[Iterable[np.ndarray]], Iterable[np.ndarray]],
    on_frame: Callable[[int], None] | None = None,
) -> int:
    """The reader's frames, through `stylize` (frames in, frames out, in order), written to `path`
    with the reader's frame timing and audio. Atomic: nothing at `path` unless complete. Returns
    the number of frames written."""
    av = require_av()
    p = Path(path)
    ext = p.suffix.lower()
    if ext not in WRITABLE_VIDEO:
        raise PainterlyError(
            f"{p}: cannot write '{ext or 'no extension'}' videos; use one of {', '.join(sorted(WRITABLE_VIDEO))}"
        )
    fmt, codec, codec_options = WRITABLE_VIDEO[ext]
    written = 0

    def encode(f: BinaryIO) -> None:
        nonlocal written
        out = av.open(f, "w", format=fmt)
        try:
            written = _encode(av, out, reader, stylize, codec, codec_options, on_frame)
        finally:
            out.close()

    try:
        write_atomic(p, encode, make_parents=True)
    except PainterlyError:
        raise
    except av.error.FFmpegError as exc:  # before OSError: some of FFmpeg's errors are OSErrors too
        raise PainterlyError(f"{p}: the video cannot be written ({_brief(exc)})") from None
    except OSError as exc:  # the file itself: a full disk, a folder that went away
        raise PainterlyError(os_error_message(exc, p, "write")) from None
    return written


def _encode(
    av: Any,
    out: Any,
    reader: VideoReader,
    stylize: Callable[[Iterable[np.ndarray]], Iterable[np.ndarray]],
    codec: str,
    codec_options: dict[str, str],
    on_frame: Callable[[int], None] | None,
) -> int:
    info, source = reader.info, reader.video_stream
    even = info.width % 2 == 0 and info.height % 2 == 0
    video = out.add_stream(codec, rate=info.rate, options=codec_options)
    video.width, video.height = info.width, info.height
    video.pix_fmt = "yuv420p" if even else "yuv444p"  # 4:2:0 (what every player plays) needs even sides
    video.time_base = source.time_base
    video.codec_context.time_base = source.time_base
    audio_in, audio_out, resampler = reader.audio_stream, None, None
    if audio_in is not None:
        if audio_in.codec_context.name in out.supported_codecs:
            audio_out = out.add_stream_from_template(audio_in)
        else:  # re-encoded into the container's own audio codec
            audio_out = out.add_stream(out.default_audio_codec, rate=audio_in.codec_context.sample_rate or 48000)
            audio_out.layout = audio_in.codec_context.layout
            resampler = av.AudioResampler(
                format=audio_out.codec_context.format, layout=audio_out.layout, rate=audio_out.codec_context.sample_rate
            )
    audio_start = None if audio_in is None else round(reader.start / audio_in.time_base)

    def on_audio(packet: Any) -> None:
        assert audio_out is not None
        if resampler is None:
            packet.pts -= audio_start
            if packet.dts is not None:
                packet.dts -= audio_start
            packet.stream = audio_out
            out.mux(packet)
            return
        for decoded in packet.decode():
            for chunk in resampler.resample(decoded):
                chunk.pts = None
                out.mux(audio_out.encode(chunk))

    times: deque[int] = deque()  # the frames' times, read ahead of their results

    def pictures() -> Iterator[np.ndarray]:
        for rgb, pts in reader.frames(on_audio if audio_out is not None else None):
            times.append(pts)
            yield rgb

    count = 0
    for result in stylize(pictures()):
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(result[..., :3]), format="rgb24")
        frame.pts, frame.time_base = times.popleft(), source.time_base
        out.mux(video.encode(frame))
        count += 1
        if on_frame is not None:
            on_frame(count)
    if count == 0:
        raise BadImageError(f"{reader.path}: no frame in the range asked for")
    out.mux(video.encode())
    if resampler is not None and audio_out is not None:
        for chunk in resampler.resample(None):
            out.mux(audio_out.encode(chunk))
        out.mux(audio_out.encode())
    return count


def _brief(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:200]
