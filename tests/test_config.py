"""Configuration: defaults, file, environment and flags, in that order of strength."""

from __future__ import annotations

from pathlib import Path

import pytest

from switchboard.config import (
    ConfigError,
    describe_options,
    env_name,
    load_settings,
    unknown_environment,
)

ROOT = Path(__file__).parent.parent


def test_defaults() -> None:
    settings = load_settings(environ={})
    assert settings.server.http_port == 8080
    assert settings.server.https_port == 8443
    assert settings.server.host == "127.0.0.1"
    assert settings.server.data_dir == Path(".switchboard")
    assert settings.database_url == "sqlite+aiosqlite:///.switchboard/switchboard.db"


def test_file_then_environment_then_flags(tmp_path: Path) -> None:
    config = tmp_path / "switchboard.toml"
    config.write_text(
        '[server]\nhttp_port = 9000\nhttps_port = 9443\nhost = "0.0.0.0"\n'
        "[log]\njson_lines = true\n"
    )
    env = {"SWITCHBOARD_HTTPS_PORT": "9444", "SWITCHBOARD_LOG_LEVEL": "debug"}
    settings = load_settings(config, {"server": {"host": "::1"}}, environ=env)
    assert settings.server.http_port == 9000
    assert settings.server.https_port == 9444
    assert settings.server.host == "::1"
    assert settings.log.json_lines is True
    assert settings.log.level == "debug"


def test_postgres_urls_select_asyncpg() -> None:
    settings = load_settings(
        overrides={"server": {"database": "postgresql://u@db:5432/sb"}}, environ={}
    )
    assert settings.database_url == "postgresql+asyncpg://u@db:5432/sb"


def test_settings_are_frozen() -> None:
    settings = load_settings(environ={})
    with pytest.raises(ValueError, match="frozen"):
        settings.server.http_port = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SWITCHBOARD_HTTP_PORT": "70000"}, "server.http_port"),
        ({"SWITCHBOARD_HTTP_PORT": "eighty"}, "server.http_port"),
        ({"SWITCHBOARD_LOG_LEVEL": "loud"}, "log.level"),
        ({"SWITCHBOARD_LIMITS_MAX_BODY_BYTES": "10"}, "limits.max_body_bytes"),
    ],
)
def test_bad_values_name_the_option(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(environ=env)


def test_unknown_sections_and_keys_are_refused(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[sever]\nhttp_port = 1\n")
    with pytest.raises(ConfigError, match=r"unknown section \[sever\]"):
        load_settings(config, environ={})
    config.write_text("[server]\nhttp_prot = 1\n")
    with pytest.raises(ConfigError, match=r"server\.http_prot: Extra inputs"):
        load_settings(config, environ={})


def test_environment_names() -> None:
    assert env_name("server", "data_dir") == "SWITCHBOARD_DATA_DIR"
    assert env_name("log", "json_lines") == "SWITCHBOARD_LOG_JSON_LINES"


def test_every_option_is_documented() -> None:
    reference = (ROOT / "docs" / "configuration.md").read_text()
    for key, env, _default, description in describe_options():
        assert f"`{key}`" in reference, key
        assert f"`{env}`" in reference, env
        assert description, f"{key} has no description"


def test_unknown_switchboard_variables_are_named_with_a_fix() -> None:
    warnings = unknown_environment(
        {
            "SWITCHBOARD_EVENTS_ALLOWED_TARGET": "127.0.0.0/8",
            "SWITCHBOARD_HTTP_PORT": "0",
            "SWITCHBOARD_CONNECTION_STRING": "endpoint=...",
            "SWITCHBOARD_TEST_POSTGRES": "postgresql://",
            "PATH": "/bin",
        }
    )
    assert warnings == [
        "SWITCHBOARD_EVENTS_ALLOWED_TARGET is not a Switchboard option and is "
        "ignored; did you mean SWITCHBOARD_EVENTS_ALLOWED_TARGETS?"
    ]
