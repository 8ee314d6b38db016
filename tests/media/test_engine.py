"""The engine's control of a real Janus: mute, up and down, a lost server."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest

from switchboard.media.engine import FeedKind, MediaError, MediaEvent, Published
from switchboard.media.janus import JanusEngine
from tests.media.janus import running_engine
from tests.media.peers import Publisher, Subscriber, until

pytestmark = pytest.mark.netns


class Recorder:
    """Collects the engine's events and lost servers."""

    def __init__(self, engine: JanusEngine) -> None:
        self.events: list[MediaEvent] = []
        self.lost: list[str] = []
        engine.on_event(self._event)
        engine.on_server_lost(self._lost)

    async def _event(self, event: MediaEvent) -> None:
        self.events.append(event)

    async def _lost(self, name: str) -> None:
        self.lost.append(name)

    def saw(self, kind: str, published: Published) -> bool:
        """Whether an event of `kind` came for the publisher's handle."""
        return any(e.kind == kind and e.handle == published.handle for e in self.events)


async def publish(
    engine: JanusEngine, recorder: Recorder, publisher: Publisher, call_id: str
) -> Published:
    """Open a room and publish into it until the engine reports `up`."""
    placement = await engine.open_room(call_id)
    offer = await publisher.offer(data=False)
    published = await engine.publish(placement, "alice", FeedKind.MAIN, offer)
    await publisher.accept(published.answer_sdp)
    await until(lambda: recorder.saw("up", published), "the publisher's up event")
    return published


async def test_mute_stops_forwarding_video_and_unmute_resumes(
    janus_engine: JanusEngine,
) -> None:
    recorder = Recorder(janus_engine)
    publisher, subscriber = Publisher(), Subscriber()
    try:
        published = await publish(janus_engine, recorder, publisher, "call-mute")
        placement = published.handle.placement
        subscription = await janus_engine.subscribe(placement, "bob", published.feed_id)
        answer = await subscriber.answer(subscription.offer_sdp)
        await janus_engine.answer(subscription.handle, answer)
        await until(lambda: subscriber.frames["video"] >= 5, "video frames")

        # Video off: the subscriber's video packets stop, its audio goes on
        await janus_engine.mute(published.handle, audio=True, video=False)
        counts: list[int] = []

        async def video_stopped() -> bool:
            counts.append(await subscriber.packets("video"))
            await asyncio.sleep(0.5)
            return len(counts) >= 2 and counts[-1] == counts[-2]

        await until(video_stopped, "video forwarding to stop")
        audio_before = await subscriber.packets("audio")
        await until(
            lambda: _grown(subscriber, "audio", audio_before), "audio to keep flowing"
        )
        assert await subscriber.packets("video") == counts[-1]

        # Video on again
        await janus_engine.mute(published.handle, audio=True, video=True)
        await until(
            lambda: _grown(subscriber, "video", counts[-1]), "video to flow again"
        )
    finally:
        await subscriber.close()
        await publisher.close()


async def _grown(subscriber: Subscriber, kind: str, than: int) -> bool:
    return await subscriber.packets(kind) > than


async def test_a_subscription_cannot_be_muted_and_unknown_handles_are_not_found(
    janus_engine: JanusEngine,
) -> None:
    recorder = Recorder(janus_engine)
    publisher = Publisher()
    try:
        published = await publish(janus_engine, recorder, publisher, "call-errors")
        subscription = await janus_engine.subscribe(
            published.handle.placement, "bob", published.feed_id
        )
        with pytest.raises(MediaError) as refused:
            await janus_engine.mute(subscription.handle, audio=False, video=False)
        assert refused.value.code == "BadRequest"

        await janus_engine.hang_up(subscription.handle)
        await janus_engine.hang_up(subscription.handle)
        with pytest.raises(MediaError) as gone:
            await janus_engine.answer(subscription.handle, "v=0\r\n")
        assert gone.value.code == "NotFound"

        with pytest.raises(MediaError) as no_feed:
            await janus_engine.subscribe(published.handle.placement, "bob", 12345)
        assert no_feed.value.code == "NotFound"
    finally:
        await publisher.close()


async def test_a_closed_room_refuses_publishers(janus_engine: JanusEngine) -> None:
    placement = await janus_engine.open_room("call-closed")
    await janus_engine.close_room(placement)
    await janus_engine.close_room(placement)
    publisher = Publisher()
    try:
        with pytest.raises(MediaError) as refused:
            await janus_engine.publish(
                placement, "alice", FeedKind.MAIN, await publisher.offer()
            )
        assert refused.value.code == "NotFound"
    finally:
        await publisher.close()


async def test_the_engine_reports_down_when_the_client_hangs_up(
    janus_engine: JanusEngine,
) -> None:
    recorder = Recorder(janus_engine)
    publisher = Publisher()
    published = await publish(janus_engine, recorder, publisher, "call-down")
    await publisher.close()
    await until(lambda: recorder.saw("down", published), "the down event")
    down = next(e for e in recorder.events if e.kind == "down")
    assert down.detail["reason"]


async def test_a_killed_janus_is_reported_lost_restarted_and_usable_again(
    tmp_path: Path,
) -> None:
    async with running_engine(tmp_path) as engine:
        recorder = Recorder(engine)
        first = Publisher()
        published = await publish(engine, recorder, first, "call-before")
        process = engine.process
        assert process is not None and process.pid is not None

        # Kill it
        os.kill(process.pid, signal.SIGKILL)
        await until(lambda: recorder.lost == ["embedded"], "on_server_lost")
        with pytest.raises(MediaError) as gone:
            await engine.mute(published.handle, audio=False, video=False)
        assert gone.value.code == "NotFound"
        await first.close()

        # The supervisor restarts it and the engine reconnects
        await until(lambda: engine.servers() == ["embedded"], "the server back up")
        assert process.restarts == 1
        second = Publisher()
        try:
            await publish(engine, recorder, second, "call-after")
        finally:
            await second.close()
