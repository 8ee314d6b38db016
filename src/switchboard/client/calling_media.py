"""Call media made and measured in Python: a sine tone, a video pattern, levels."""

from __future__ import annotations

import asyncio
import fractions
import math
import operator
import time
from array import array
from dataclasses import dataclass

from aiortc.mediastreams import MediaStreamError, MediaStreamTrack, VideoStreamTrack
from av import AudioFrame, VideoFrame

SAMPLE_RATE = 48_000
"""Opus always runs at 48 kHz, so the tone is made at that rate."""

FRAME_SAMPLES = 960
"""20 ms of audio, the usual Opus packet duration."""

FULL_SCALE = 32768
"""The magnitude of a full-scale signed 16-bit sample."""


class ToneTrack(MediaStreamTrack):
    """A mono sine wave at `frequency_hz`, 48 kHz, in 20 ms frames, paced in time."""

    kind = "audio"

    def __init__(self, frequency_hz: float = 440.0, level: float = 0.25) -> None:
        super().__init__()
        if not 0 < frequency_hz < SAMPLE_RATE / 2:
            raise ValueError(
                f"tone: expected 0 < frequency < 24000, got {frequency_hz}"
            )
        if not 0 < level <= 1:
            raise ValueError(f"tone: expected 0 < level <= 1, got {level}")
        self.frequency_hz = frequency_hz
        # One second of samples; an integer frequency repeats it seamlessly.
        peak = int(level * 32767)
        step = 2 * math.pi * frequency_hz / SAMPLE_RATE
        samples = [int(peak * math.sin(step * n)) for n in range(SAMPLE_RATE)]
        self._second = b"".join(s.to_bytes(2, "little", signed=True) for s in samples)
        self._start = 0.0
        self._pts = -1

    async def recv(self) -> AudioFrame:
        """The next 20 ms of the tone, returned when it is due."""
        if self.readyState != "live":
            raise MediaStreamError

        # Pace frames on the wall clock so the sender never runs ahead.
        if self._pts < 0:
            self._start = time.monotonic()
            self._pts = 0
        else:
            self._pts += FRAME_SAMPLES
            due = self._start + self._pts / SAMPLE_RATE
            await asyncio.sleep(max(0.0, due - time.monotonic()))

        offset = (self._pts % SAMPLE_RATE) * 2
        frame = AudioFrame(format="s16", layout="mono", samples=FRAME_SAMPLES)
        frame.planes[0].update(self._second[offset : offset + FRAME_SAMPLES * 2])
        frame.pts = self._pts
        frame.sample_rate = SAMPLE_RATE
        frame.time_base = fractions.Fraction(1, SAMPLE_RATE)
        return frame


class PatternTrack(VideoStreamTrack):
    """Colour bars that move one step per frame, 30 frames a second."""

    def __init__(self, width: int = 320, height: int = 240, steps: int = 30) -> None:
        super().__init__()
        self._frames = [_bars(width, height, step, steps) for step in range(steps)]
        self._size = (width, height)
        self._count = 0

    async def recv(self) -> VideoFrame:
        """The next frame of the pattern, returned when it is due."""
        pts, time_base = await self.next_timestamp()
        width, height = self._size
        frame = VideoFrame(width=width, height=height, format="yuv420p")
        planes = self._frames[self._count % len(self._frames)]
        for plane, data in zip(frame.planes, planes, strict=True):
            plane.update(data)
        self._count += 1
        frame.pts = pts
        frame.time_base = time_base
        return frame


def _bars(width: int, height: int, step: int, steps: int) -> tuple[bytes, ...]:
    """The three planes of one yuv420p frame of vertical bars shifted by `step`."""
    template = VideoFrame(width=width, height=height, format="yuv420p")
    shift = step * width // steps
    planes = []
    for index, plane in enumerate(template.planes):
        plane_width = width if index == 0 else width // 2
        plane_height = height if index == 0 else height // 2
        scale = 1 if index == 0 else 2
        row = bytearray(plane.line_size)
        for x in range(plane_width):
            bar = ((x * scale + shift) % width) * 8 // width
            row[x] = _BAR_COLOURS[bar][index]
        planes.append(bytes(row) * plane_height)
    return tuple(planes)


# White, yellow, cyan, green, magenta, red, blue, black as (Y, U, V).
_BAR_COLOURS = (
    (235, 128, 128),
    (210, 16, 146),
    (170, 166, 16),
    (145, 54, 34),
    (106, 202, 222),
    (81, 90, 240),
    (41, 240, 110),
    (16, 128, 128),
)


@dataclass(frozen=True, slots=True)
class AudioStats:
    """What was heard on one feed, or on all of them: samples and level."""

    samples: int
    """Samples received per channel."""
    rms: float
    """Root mean square level, 0.0 (silence) to 1.0 (full scale)."""
    peak: int
    """The largest absolute 16-bit sample value."""
    loud_samples: int
    """Samples of decoded frames louder than 1% of full scale (not silence)."""


@dataclass
class AudioLevel:
    """Running totals of received audio, from which AudioStats is made."""

    samples: int = 0
    squares: float = 0.0
    peak: int = 0
    loud: int = 0
    channels: int = 1

    def add(self, frame: AudioFrame) -> None:
        """Count one decoded frame (packed signed 16-bit samples)."""
        # Decoded Opus arrives as interleaved signed 16-bit ("s16") samples.
        self.channels = len(frame.layout.channels)
        count = frame.samples * self.channels
        values = array("h", bytes(frame.planes[0])[: count * 2])
        if not values:
            return
        squares = sum(map(operator.mul, values, values))
        self.samples += frame.samples
        self.squares += squares
        self.peak = max(self.peak, max(values), -min(values))
        # A frame above 1% of full scale counts as heard, not silence or dither.
        if squares / len(values) > (0.01 * FULL_SCALE) ** 2:
            self.loud += frame.samples

    def stats(self) -> AudioStats:
        """The totals so far as samples, RMS level, peak and loud samples."""
        values = self.samples * self.channels
        rms = (self.squares / values) ** 0.5 / FULL_SCALE if values else 0.0
        return AudioStats(self.samples, rms, self.peak, self.loud)
