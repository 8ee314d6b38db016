"""Fan-out between the parts of one node and between nodes."""

from switchboard.bus.base import Bus, Handler, Subscription
from switchboard.bus.memory import MemoryBus

__all__ = ["Bus", "Handler", "MemoryBus", "Subscription", "open_bus"]


async def open_bus(redis_url: str) -> Bus:
    """The in-process bus, or the Redis one when a URL is given."""
    if not redis_url:
        return MemoryBus()
    from switchboard.bus.redis import RedisBus

    bus = RedisBus(redis_url)
    await bus.start()
    return bus
