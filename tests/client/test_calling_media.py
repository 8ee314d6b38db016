"""Generated call media: tone and pattern, alone and across a real aiortc link."""

from __future__ import annotations

import asyncio
from array import array

import pytest
from aiortc import RTCPeerConnection
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame, VideoFrame

from switchboard.client.calling_media import (
    FRAME_SAMPLES,
    SAMPLE_RATE,
    AudioLevel,
    AudioStats,
    PatternTrack,
    ToneTrack,
)


def samples_of(frame: AudioFrame) -> array[int]:
    """The signed 16-bit samples of a packed frame."""
    count = frame.samples * len(frame.layout.channels)
    return array("h", bytes(frame.planes[0])[: count * 2])


async def test_the_tone_is_a_440_hz_sine_in_20_ms_frames_at_48_khz() -> None:
    tone = ToneTrack(440.0, level=0.5)
    samples: list[int] = []
    pts = []
    for _ in range(50):
        frame = await tone.recv()
        assert (frame.format.name, frame.layout.name) == ("s16", "mono")
        assert (frame.samples, frame.sample_rate) == (FRAME_SAMPLES, SAMPLE_RATE)
        pts.append(frame.pts)
        samples.extend(samples_of(frame))
    tone.stop()

    assert pts == [n * FRAME_SAMPLES for n in range(50)]
    # One second of a 440 Hz sine, read as a loop, crosses zero upwards 440 times.
    following = samples[1:] + samples[:1]
    rising = sum(1 for a, b in zip(samples, following, strict=True) if a < 0 <= b)
    assert rising == 440
    assert max(samples) == int(0.5 * 32767)
    with pytest.raises(MediaStreamError):
        await tone.recv()


def test_a_tone_outside_the_opus_band_is_refused() -> None:
    with pytest.raises(ValueError, match="expected 0 < frequency < 24000, got 30000"):
        ToneTrack(30000)
    with pytest.raises(ValueError, match="expected 0 < level <= 1, got 2"):
        ToneTrack(440, level=2)


async def test_the_pattern_moves_from_frame_to_frame() -> None:
    pattern = PatternTrack(width=160, height=120, steps=4)
    frames = [await pattern.recv() for _ in range(5)]
    pattern.stop()

    assert {(f.width, f.height, f.format.name) for f in frames} == {
        (160, 120, "yuv420p")
    }
    lumas = [bytes(f.planes[0]) for f in frames]
    assert len(set(lumas[:4])) == 4
    assert lumas[4] == lumas[0]


def test_levels_count_samples_rms_peak_and_loud_frames() -> None:
    level = AudioLevel()
    loud = AudioFrame(format="s16", layout="stereo", samples=4)
    loud.planes[0].update(array("h", [1000, 1000, -1000, -1000] * 2).tobytes())
    quiet = AudioFrame(format="s16", layout="stereo", samples=4)
    quiet.planes[0].update(bytes(16))
    level.add(loud)
    level.add(quiet)

    assert level.stats() == AudioStats(
        samples=8, rms=(1000**2 / 2) ** 0.5 / 32768, peak=1000, loud_samples=4
    )


@pytest.mark.netns
async def test_tone_and_pattern_cross_an_aiortc_link_and_are_measured() -> None:
    sender, receiver = RTCPeerConnection(), RTCPeerConnection()
    sender.addTransceiver(ToneTrack(440.0), direction="sendonly")
    sender.addTransceiver(PatternTrack(), direction="sendonly")
    level = AudioLevel()
    sizes: list[tuple[int, int]] = []
    enough = asyncio.Event()

    async def consume(track: MediaStreamTrack) -> None:
        while not enough.is_set():
            frame = await track.recv()
            if isinstance(frame, AudioFrame):
                level.add(frame)
            elif isinstance(frame, VideoFrame):
                sizes.append((frame.width, frame.height))
            if level.samples >= SAMPLE_RATE and len(sizes) >= 10:
                enough.set()

    tasks = []

    @receiver.on("track")
    def on_track(track: MediaStreamTrack) -> None:
        tasks.append(asyncio.create_task(consume(track)))

    await sender.setLocalDescription(await sender.createOffer())
    await receiver.setRemoteDescription(sender.localDescription)
    await receiver.setLocalDescription(await receiver.createAnswer())
    await sender.setRemoteDescription(receiver.localDescription)
    await asyncio.wait_for(enough.wait(), 30)
    for task in tasks:
        task.cancel()
    await sender.close()
    await receiver.close()

    heard = level.stats()
    # A 0.25 full-scale sine has an RMS near 0.18 (Opus and upmixing shave some).
    assert 0.08 < heard.rms < 0.25
    assert heard.loud_samples > SAMPLE_RATE // 2
    assert set(sizes) == {(320, 240)}
