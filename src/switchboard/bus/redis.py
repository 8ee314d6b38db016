"""The bus between nodes, on Redis pub/sub."""

from __future__ import annotations

import asyncio
import json
import logging
from collections import defaultdict

import redis.asyncio as aioredis

from switchboard.bus.base import Bus, Handler, Message, Subscription, deliver

log = logging.getLogger(__name__)

_PREFIX = "switchboard:"


class RedisBus(Bus):
    """Publishes through Redis so that every node's subscribers receive it."""

    def __init__(self, url: str) -> None:
        self._redis: aioredis.Redis = aioredis.from_url(url)
        self._pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        self._handlers: defaultdict[str, list[Handler]] = defaultdict(list)
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Check the connection and start reading."""
        await self._redis.ping()
        # A pubsub with no channel cannot be read; this one keeps it open.
        await self._pubsub.subscribe(_PREFIX + "_")
        self._reader = asyncio.create_task(self._read())

    async def publish(self, topic: str, message: Message) -> None:
        """Publish the message as JSON on the topic's channel."""
        await self._redis.publish(_PREFIX + topic, json.dumps(message))

    async def subscribe(self, topic: str, handler: Handler) -> Subscription:
        """Subscribe the channel on first use and add the handler."""
        if not self._handlers[topic]:
            await self._pubsub.subscribe(_PREFIX + topic)
        self._handlers[topic].append(handler)

        async def close() -> None:
            self._handlers[topic].remove(handler)
            if not self._handlers[topic]:
                del self._handlers[topic]
                await self._pubsub.unsubscribe(_PREFIX + topic)

        return Subscription(close)

    async def _read(self) -> None:
        while True:
            try:
                item = await self._pubsub.get_message(timeout=1.0)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("reading from redis failed; retrying")
                await asyncio.sleep(1.0)
                continue
            if item is None or item.get("type") != "message":
                continue
            topic = item["channel"].decode()[len(_PREFIX) :]
            handlers = list(self._handlers.get(topic, ()))
            if handlers:
                await deliver(topic, handlers, json.loads(item["data"]))

    async def close(self) -> None:
        """Stop reading and close the connections."""
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
        await self._pubsub.aclose()  # type: ignore[no-untyped-call]
        await self._redis.aclose()
