"""Media through a call: aiortc peers publish and subscribe over the realtime protocol.

These run in a network namespace of their own (scripts/netns), where the node's
embedded Janus can gather ICE candidates.
"""

from __future__ import annotations

import os
import re
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from switchboard.client import RealtimeClient, RequestError
from tests.calls.conftest import NODE_ENV
from tests.calls.support import connected, new_user, next_event
from tests.conftest import NETNS_MEDIA_ENV, RunningServer, start_server
from tests.media.peers import Publisher, Subscriber, until

pytestmark = pytest.mark.netns


@pytest.fixture
def media_node(tmp_path: Path) -> Iterator[RunningServer]:
    """A node with its embedded Janus on the namespace's address."""
    server = start_server(
        tmp_path / "node",
        env={**NODE_ENV, **NETNS_MEDIA_ENV},
    )
    yield server
    server.stop()


async def publish(client: RealtimeClient, call_id: str) -> tuple[Publisher, int]:
    """Publish audio, video and data into the call; the publisher and its feed."""
    publisher = Publisher()
    offer = await publisher.offer()
    published = await client.request(
        "media.publish", {"callId": call_id, "kind": "main", "sdp": offer}
    )
    await publisher.accept(published["sdp"])
    return publisher, int(published["feedId"])


async def subscribe(
    client: RealtimeClient, call_id: str, feed_id: int
) -> tuple[Subscriber, dict[str, Any]]:
    """Subscribe to one feed and answer the engine's offer."""
    subscriber = Subscriber()
    offered = await client.request(
        "media.subscribe", {"callId": call_id, "feedId": feed_id}
    )
    answer = await subscriber.answer(offered["sdp"])
    await client.request(
        "media.answer", {"handleId": offered["handleId"], "sdp": answer}
    )
    await client.request(
        "media.trickle", {"handleId": offered["handleId"], "candidate": None}
    )
    return subscriber, offered


async def test_two_participants_receive_each_others_media(
    media_node: RunningServer,
) -> None:
    group = str(uuid.uuid4())
    alice, bob = await new_user(media_node), await new_user(media_node)
    peers: list[Any] = []
    async with connected(media_node, alice) as (a,), connected(media_node, bob) as (b,):
        call_id = (await a.request("call.join", {"groupId": group}))["call"]["callId"]
        await b.request("call.join", {"groupId": group})
        alice_pub, alice_feed = await publish(a, call_id)
        # A feed is subscribable once its media flows: callStreamAdded says so.
        added = await next_event(b, "callStreamAdded", call_id)
        bob_pub, bob_feed = await publish(b, call_id)
        bob_added = await next_event(a, "callStreamAdded", call_id)
        while bob_added["feedId"] != bob_feed:
            bob_added = await next_event(a, "callStreamAdded", call_id)
        bob_sub, offered = await subscribe(b, call_id, alice_feed)
        alice_sub, _ = await subscribe(a, call_id, bob_feed)
        peers += [alice_pub, bob_pub, bob_sub, alice_sub]
        try:
            for sub in (alice_sub, bob_sub):
                await until(lambda s=sub: s.frames["video"] >= 5, "video frames")
                await until(lambda s=sub: s.frames["audio"] >= 5, "audio frames")
            assert alice_pub.channel is not None
            await until(
                lambda: alice_pub.channel.readyState == "open", "the channel opens"
            )

            async def data_arrives() -> bool:
                assert alice_pub.channel is not None
                alice_pub.channel.send("hello from alice")
                return any(m == "hello from alice" for _, m in bob_sub.messages)

            await until(data_arrives, "alice's data at bob")
            await a.request("call.end", {"callId": call_id})
            ended = await next_event(b, "callEnded", call_id)
        finally:
            for peer in peers:
                await peer.close()

    assert added == {
        **added,
        "feedId": alice_feed,
        "participant": alice.id,
        "kind": "main",
    }
    assert {s["type"] for s in offered["streams"]} >= {"audio", "video"}
    assert all(s["feedId"] == alice_feed for s in offered["streams"])
    assert bob_sub.sizes[0][0] > 0 and bob_sub.sizes[0][1] > 0
    labels = {label for label, m in bob_sub.messages if m == "hello from alice"}
    assert labels == {str(alice_feed)}
    assert ended["reason"] == "completed"


async def test_a_call_ends_when_its_media_server_dies(
    media_node: RunningServer,
) -> None:
    group = str(uuid.uuid4())
    alice, bob = await new_user(media_node), await new_user(media_node)
    started = re.search(r"embedded janus started \(pid (\d+)", media_node.log())
    assert started is not None, media_node.log()
    async with connected(media_node, alice) as (a,), connected(media_node, bob) as (b,):
        call_id = (await a.request("call.join", {"groupId": group}))["call"]["callId"]
        await b.request("call.join", {"groupId": group})
        publisher, _ = await publish(a, call_id)
        try:
            os.kill(int(started.group(1)), signal.SIGKILL)
            ended = [await next_event(c, "callEnded", call_id) for c in (a, b)]
        finally:
            await publisher.close()

        # The supervisor restarts Janus; a new call then carries media again.
        again = (await a.request("call.join", {"groupId": group}))["call"]["callId"]
        refusals: list[str] = []

        async def publishes() -> bool:
            try:
                second, _ = await publish(a, again)
            except RequestError as exc:
                refusals.append(exc.code)
                return False
            await next_event(a, "callStreamAdded", again)
            await second.close()
            return True

        await until(publishes, "a publication after the restart", timeout_s=60)
        await a.request("call.end", {"callId": again})

    assert [e["reason"] for e in ended] == ["mediaServerLost", "mediaServerLost"]
    assert again != call_id
    assert set(refusals) <= {"MediaUnavailable"}
