"""Which media servers a node uses, and a node without any."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from switchboard.config import Settings, load_settings
from switchboard.core.errors import StartupError
from switchboard.media.engine import MediaError
from switchboard.media.setup import build_media, configured_servers


def settings(tmp_path: Path, **media: object) -> Settings:
    return load_settings(
        overrides={"server": {"data_dir": tmp_path}, "media": media}, environ={}
    )


def test_configured_servers_share_the_api_secret(tmp_path: Path) -> None:
    specs = configured_servers(
        settings(tmp_path, servers=("a=ws://10.0.0.1:8188",), api_secret="x")
    )
    assert [(s.name, s.url, s.api_secret) for s in specs] == [
        ("a", "ws://10.0.0.1:8188", "x")
    ]


def test_auto_runs_no_janus_beside_configured_servers(tmp_path: Path) -> None:
    engine = build_media(settings(tmp_path, servers=("a=ws://10.0.0.1:8188",)))
    assert engine.process is None


def test_off_runs_no_janus(tmp_path: Path) -> None:
    assert build_media(settings(tmp_path, embedded="off")).process is None


def test_the_name_embedded_is_reserved_when_janus_runs_here(tmp_path: Path) -> None:
    with pytest.raises(StartupError, match="embedded"):
        build_media(
            settings(
                tmp_path,
                embedded="on",
                janus_binary="/bin/true",
                servers=("embedded=ws://10.0.0.1:8188",),
            )
        )


def test_an_embedded_janus_is_planned_in_the_data_dir(tmp_path: Path) -> None:
    engine = build_media(settings(tmp_path, embedded="on", janus_binary="/bin/true"))
    assert engine.process is not None
    assert engine.process.folder == tmp_path / "janus"
    assert engine.process.options.api_port > 0


async def test_without_a_janus_binary_the_node_runs_without_media(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, "switchboard.media"):
        engine = build_media(
            settings(tmp_path, janus_binary="janus-that-is-not-installed")
        )
    assert engine.process is None
    assert "janus-that-is-not-installed" in caplog.text
    assert "calls answer MediaUnavailable" in caplog.text

    await engine.start()
    try:
        assert engine.servers() == []
        with pytest.raises(MediaError) as refused:
            await engine.open_room("call-1")
        assert refused.value.code == "MediaUnavailable"
    finally:
        await engine.stop()


def test_an_embedded_janus_in_a_cluster_is_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    multi = load_settings(
        overrides={
            "server": {"data_dir": tmp_path, "redis": "redis://127.0.0.1:6379/0"},
            "media": {"embedded": "on", "janus_binary": "/bin/true"},
        },
        environ={},
    )
    with caplog.at_level(logging.WARNING, "switchboard.media"):
        build_media(multi)
    assert "Configure media.servers" in caplog.text
