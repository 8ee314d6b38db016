"""`switchboard serve` runs, supervises and stops its embedded Janus."""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path

import pytest

from tests.conftest import NETNS_ADDRESS, NETNS_MEDIA_ENV, start_server

pytestmark = pytest.mark.netns


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone for our purposes.
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


ENV = NETNS_MEDIA_ENV


def _janus(log: str) -> tuple[int, str]:
    started = re.search(r"embedded janus started \(pid (\d+), api (\S+),", log)
    assert started is not None, log
    return int(started.group(1)), started.group(2)


def _gone(pid: int) -> bool:
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not _alive(pid)


def test_serve_starts_janus_with_its_config_and_stops_it(tmp_path: Path) -> None:
    server = start_server(tmp_path / "node", env=ENV)
    try:
        log = server.log()
        pid, url = _janus(log)
        assert url.startswith(f"ws://{NETNS_ADDRESS}:")
        assert "media server embedded: connecting -> up" in log
        folder = tmp_path / "node" / "janus"
        core = (folder / "janus.jcfg").read_text()
        assert f'ice_enforce_list = "{NETNS_ADDRESS}"' in core
        assert (
            "JANUS VideoRoom plugin initialized!" in (folder / "janus.log").read_text()
        )
        assert _alive(pid)
    finally:
        assert server.stop() == 0
    assert _gone(pid)
    assert "embedded janus: stopping -> stopped" in server.log()


def test_janus_dies_with_a_node_that_is_killed(tmp_path: Path) -> None:
    server = start_server(tmp_path / "node", env=ENV)
    pid, _ = _janus(server.log())
    assert _alive(pid)
    server.stop(signal.SIGKILL)
    assert _gone(pid)
