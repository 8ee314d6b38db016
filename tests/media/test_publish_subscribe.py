"""Publishing and subscribing through a real Janus with aiortc peers."""

from __future__ import annotations

import asyncio

import pytest

from switchboard.media.engine import FeedKind, MediaEvent
from switchboard.media.janus import JanusEngine
from tests.media.peers import Publisher, Subscriber, until

pytestmark = pytest.mark.netns


async def test_audio_video_and_data_reach_a_subscriber(
    janus_engine: JanusEngine,
) -> None:
    events: list[MediaEvent] = []

    async def record(event: MediaEvent) -> None:
        events.append(event)

    janus_engine.on_event(record)
    placement = await janus_engine.open_room("call-1")
    publisher, subscriber = Publisher(), Subscriber()
    try:
        # Publish
        published = await janus_engine.publish(
            placement, "alice", FeedKind.MAIN, await publisher.offer()
        )
        await publisher.accept(published.answer_sdp)
        await until(
            lambda: any(
                e.kind == "up" and e.handle == published.handle for e in events
            ),
            "the publisher's up event",
        )

        # Subscribe
        subscription = await janus_engine.subscribe(placement, "bob", published.feed_id)
        kinds = sorted(s.type for s in subscription.streams)
        assert kinds == ["audio", "data", "video"]
        assert {s.feed_id for s in subscription.streams} == {published.feed_id}
        answer = await subscriber.answer(subscription.offer_sdp)
        await janus_engine.answer(subscription.handle, answer)
        await until(lambda: subscriber.frames["video"] >= 10, "ten video frames")
        await until(lambda: subscriber.frames["audio"] >= 10, "ten audio frames")
        assert subscriber.sizes[0] == (640, 480)
        assert any(e.kind == "up" and e.handle == subscription.handle for e in events)

        # Data: the channel to the subscriber is named after the sender's feed.
        # Messages sent before the subscriber's association is ready are not
        # relayed, so the publisher repeats until one arrives.
        channel = publisher.channel
        assert channel is not None
        await until(lambda: channel.readyState == "open", "the publisher's channel")
        for attempt in range(100):
            channel.send(f"hello {attempt} from alice")
            if subscriber.messages:
                break
            await asyncio.sleep(0.2)
        label, text = subscriber.messages[0]
        assert label == str(published.feed_id)
        assert text.startswith("hello ") and text.endswith(" from alice")

        # Binary data sent unreliably arrives on the same reliable, ordered channel
        unreliable = publisher.unreliable
        assert unreliable is not None and unreliable.readyState == "open"
        unreliable.send(b"\x00\x01binary")
        await until(lambda: (label, b"\x00\x01binary") in subscriber.messages, "binary")
        assert list(subscriber.channels) == [str(published.feed_id)]
        relay = subscriber.channels[str(published.feed_id)]
        assert relay.ordered is True
        assert relay.maxRetransmits is None and relay.maxPacketLifeTime is None
    finally:
        await subscriber.close()
        await publisher.close()
        await janus_engine.close_room(placement)


async def test_trickled_candidates_are_accepted_and_the_publisher_comes_up(
    janus_engine: JanusEngine,
) -> None:
    events: list[MediaEvent] = []

    async def record(event: MediaEvent) -> None:
        events.append(event)

    janus_engine.on_event(record)
    placement = await janus_engine.open_room("call-trickle")
    publisher = Publisher()
    try:
        # The offer goes without candidates; each follows on its own
        offer = await publisher.offer(data=False)
        lines = offer.splitlines(keepends=True)
        bare = "".join(line for line in lines if not line.startswith("a=candidate:"))
        candidates = [
            line.strip()[2:] for line in lines if line.startswith("a=candidate:")
        ]
        assert candidates
        published = await janus_engine.publish(placement, "alice", FeedKind.MAIN, bare)
        for candidate in candidates:
            await janus_engine.trickle(
                published.handle,
                {"candidate": candidate, "sdpMid": "0", "sdpMLineIndex": 0},
            )
        await janus_engine.trickle(published.handle, None)
        await publisher.accept(published.answer_sdp)

        await until(
            lambda: any(
                e.kind == "up" and e.handle == published.handle for e in events
            ),
            "the publisher's up event",
        )
    finally:
        await publisher.close()
        await janus_engine.close_room(placement)
