"""An embedded Janus and a started JanusEngine inside the test network namespace.

Other tests import `running_engine` (or use the `janus_engine` fixture of
tests/media/conftest.py) to get a real SFU: Janus's API and ICE are bound to
the namespace address, because Janus gathers no candidates on loopback.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from switchboard.config import Settings, load_settings
from switchboard.media.janus import JanusEngine
from switchboard.media.setup import build_media
from tests.conftest import NETNS_ADDRESS


def media_settings(data_dir: Path, **media: Any) -> Settings:
    """Settings for a node in the namespace with an embedded Janus bound there."""
    options: dict[str, Any] = {
        "embedded": "on",
        "api_host": NETNS_ADDRESS,
        "ice_addresses": (NETNS_ADDRESS,),
        **media,
    }
    return load_settings(
        overrides={"server": {"data_dir": data_dir}, "media": options}, environ={}
    )


@contextlib.asynccontextmanager
async def running_engine(data_dir: Path, **media: Any) -> AsyncIterator[JanusEngine]:
    """A started engine over an embedded Janus; stopped (Janus too) on exit."""
    assert NETNS_ADDRESS, "needs the network namespace of scripts/netns"
    engine = build_media(media_settings(data_dir, **media))
    await engine.start()
    try:
        assert engine.servers() == ["embedded"], "the embedded Janus did not come up"
        yield engine
    finally:
        await engine.stop()
