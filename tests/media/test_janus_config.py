"""The generated Janus configuration folder."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from switchboard.config import ConfigError, load_settings
from switchboard.media.janus_config import JanusOptions, quote, write_config


def options(**media: object) -> JanusOptions:
    settings = load_settings(overrides={"media": media}, environ={})
    return JanusOptions.from_settings(settings.media, 18188, "s3cret")


def test_the_core_file_enforces_the_ice_addresses_and_disables_the_rest(
    tmp_path: Path,
) -> None:
    folder = write_config(
        options(
            ice_addresses=("10.0.0.5", "eth1"), rtp_port_min=20000, rtp_port_max=20999
        ),
        tmp_path / "janus",
    )
    core = (folder / "janus.jcfg").read_text()
    assert '\tice_enforce_list = "10.0.0.5,eth1"\n' in core
    assert '\tinterface = "10.0.0.5"\n' in core
    assert '\trtp_port_range = "20000-20999"\n' in core
    assert '\tapi_secret = "s3cret"\n' in core
    assert f'\tconfigs_folder = "{folder.resolve()}"\n' in core
    assert "libjanus_streaming.so" in core and "libjanus_lua.so" in core
    assert "libjanus_videoroom.so" not in core
    assert "libjanus_mqtt.so" in core and "libjanus_websockets.so" not in core
    assert "nat_1_1_mapping" not in core


def test_nat_1_1_mapping_is_written_only_when_set(tmp_path: Path) -> None:
    folder = write_config(
        options(nat_1_1_mapping="203.0.113.7", keep_private_host=True), tmp_path
    )
    core = (folder / "janus.jcfg").read_text()
    assert '\tnat_1_1_mapping = "203.0.113.7"\n' in core
    assert "\tkeep_private_host = true\n" in core
    assert "ice_enforce_list" not in core and "rtp_port_range" not in core


def test_the_websocket_transport_binds_one_address_without_admin_api(
    tmp_path: Path,
) -> None:
    folder = write_config(options(api_host="10.77.0.1"), tmp_path)
    transport = (folder / "janus.transport.websockets.jcfg").read_text()
    assert "\tws_port = 18188\n" in transport
    assert '\tws_ip = "10.77.0.1"\n' in transport
    assert "\twss = false\n" in transport and "\tadmin_ws = false\n" in transport
    room = (folder / "janus.plugin.videoroom.jcfg").read_text()
    assert "room-" not in room


def test_the_folder_and_files_are_private(tmp_path: Path) -> None:
    folder = write_config(options(), tmp_path / "janus")
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for path in folder.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_strings_are_escaped() -> None:
    assert quote('a"b\\c') == '"a\\"b\\\\c"'


def test_a_fresh_secret_each_time_and_never_in_repr() -> None:
    settings = load_settings(environ={})
    one = JanusOptions.from_settings(settings.media, 1)
    two = JanusOptions.from_settings(settings.media, 1)
    assert one.api_secret != two.api_secret
    assert one.api_secret not in repr(one)
    assert one.url == "ws://127.0.0.1:1"


@pytest.mark.parametrize(
    ("media", "problem"),
    [
        ({"servers": ["ws://h:1"]}, "is not name=ws://host:port"),
        ({"servers": ["a=http://h:1"]}, "is not name=ws://host:port"),
        ({"servers": ["a=ws://h:1", "a=ws://h:2"]}, "named twice"),
        ({"rtp_port_min": 20000}, "set both rtp_port_min and rtp_port_max"),
        ({"rtp_port_min": 30000, "rtp_port_max": 20000}, "above rtp_port_max"),
        ({"embedded": "maybe"}, "media.embedded"),
    ],
)
def test_bad_media_settings_are_refused(media: dict[str, object], problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        load_settings(overrides={"media": media}, environ={})


def test_servers_come_from_the_environment() -> None:
    env = {"SWITCHBOARD_MEDIA_SERVERS": "a=ws://10.0.0.1:8188,b=ws://10.0.0.2:8188"}
    settings = load_settings(environ=env)
    assert settings.media.servers == ("a=ws://10.0.0.1:8188", "b=ws://10.0.0.2:8188")
