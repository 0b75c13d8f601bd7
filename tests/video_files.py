"""Real video files for the tests, made with PyAV from a panned photo and a tone."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

SAMPLE_RATE = 48000


def make_video(
    path: Path,
    frames: list[np.ndarray],
    rate: int = 24,
    audio: str | None = "aac",
    fmt: str | None = None,
    codec: str = "libx264",
) -> Path:
    """`frames` (HxWx3 uint8) at `rate` a second, with a 440 Hz stereo tone as long as the frames,
    encoded with `audio` (None: no audio)."""
    import av

    out = av.open(str(path), "w", format=fmt)
    video = out.add_stream(codec, rate=rate)
    video.width, video.height = frames[0].shape[1], frames[0].shape[0]
    video.pix_fmt = "yuv420p"
    sound = None
    if audio:
        sound = out.add_stream(audio, rate=SAMPLE_RATE)
        sound.layout = "stereo"
    for i, rgb in enumerate(frames):
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        frame.pts, frame.time_base = i, Fraction(1, rate)
        out.mux(video.encode(frame))
    out.mux(video.encode())
    if sound is not None:
        n = SAMPLE_RATE * len(frames) // rate
        tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(n) / SAMPLE_RATE)).astype(np.float32)
        fmt_name = sound.codec_context.format.name
        step = sound.codec_context.frame_size or 1024
        for i in range(0, n, step):
            chunk = np.stack([tone[i : i + step]] * 2)
            data = chunk if fmt_name.endswith("p") else chunk.T.reshape(1, -1)
            samples = av.AudioFrame.from_ndarray(np.ascontiguousarray(data), format=fmt_name, layout="stereo")
            samples.sample_rate, samples.pts = SAMPLE_RATE, i
            out.mux(sound.encode(samples))
        out.mux(sound.encode())
    out.close()
    return path


def probe(path: Path) -> dict:
    """What a player sees in a video file: frames (decoded, as uint8 RGB), their times, rate and audio."""
    import av

    with av.open(str(path)) as c:
        v = c.streams.video[0]
        a = c.streams.audio[0] if c.streams.audio else None
        frames, times, audio_packets = [], [], []
        for packet in c.demux():
            if packet.stream is a:
                if packet.pts is not None:
                    audio_packets.append(float(packet.pts * a.time_base))
                continue
            for f in packet.decode():
                frames.append(f.to_ndarray(format="rgb24"))
                times.append(float(f.pts * v.time_base))
        return {
            "frames": frames,
            "times": times,
            "rate": v.average_rate,
            "audio": None if a is None else a.codec_context.name,
            "audio_span": (min(audio_packets), max(audio_packets)) if audio_packets else None,
        }
