"""Typed configuration: defaults, then a TOML file, then the environment, then flags.

Every option lives in a section. In the TOML file it is written under its section
(`[server]`, `[log]`, ...). In the environment it is `SWITCHBOARD_<FIELD>` for the
`server` section and `SWITCHBOARD_<SECTION>_<FIELD>` for the others, upper case.
The loaded configuration is frozen.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ServerSettings(_Section):
    """Where the node listens and what it stores where."""

    data_dir: Path = Field(
        Path("./.switchboard"),
        description="Folder for the SQLite database, TLS files and ports.json.",
    )
    host: str = Field("127.0.0.1", description="Address the HTTP and HTTPS ports bind.")
    http_port: int = Field(
        8080, ge=0, le=65535, description="Plain HTTP port; 0 picks a free one."
    )
    https_port: int = Field(
        8443, ge=0, le=65535, description="HTTPS port; 0 picks a free one."
    )
    public_host: str = Field(
        "localhost",
        description="Host name put in the connection string and generated links.",
    )
    database: str = Field(
        "",
        description=(
            "Database URL; empty means a SQLite file in the data dir. "
            "A postgresql:// URL selects PostgreSQL."
        ),
    )
    redis: str = Field(
        "",
        description="Redis URL for fan-out between nodes; empty means in-process.",
    )
    tls_cert: Path | None = Field(
        None, description="PEM certificate chain; empty means the generated one."
    )
    tls_key: Path | None = Field(None, description="PEM private key for tls_cert.")
    shutdown_grace_s: float = Field(
        10.0, gt=0, description="How long open requests may run after SIGTERM."
    )


class LogSettings(_Section):
    """How the node logs."""

    json_lines: bool = Field(False, description="Write one JSON object per log line.")
    level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="Lowest level written."
    )


class LimitSettings(_Section):
    """Request limits."""

    max_body_bytes: int = Field(
        1_048_576, ge=1024, description="Largest request body accepted (413 above)."
    )
    clock_skew_s: int = Field(
        900, ge=1, description="How far x-ms-date may be from the server's clock."
    )


class IdentitySettings(_Section):
    """User access tokens."""

    user_cache_s: float = Field(
        30.0,
        ge=0,
        description=(
            "How long a node caches a user's revocation state; changes reach "
            "every node at once through the bus, this bounds a missed message."
        ),
    )


class Settings(_Section):
    """The whole configuration of one node."""

    server: ServerSettings = ServerSettings()
    log: LogSettings = LogSettings()
    limits: LimitSettings = LimitSettings()
    identity: IdentitySettings = IdentitySettings()

    @property
    def database_url(self) -> str:
        """The SQLAlchemy async URL of the database."""
        url = self.server.database
        if not url:
            return f"sqlite+aiosqlite:///{self.server.data_dir / 'switchboard.db'}"
        if url.startswith(("postgresql://", "postgres://")):
            return "postgresql+asyncpg://" + url.split("://", 1)[1]
        return url


class ConfigError(Exception):
    """The configuration cannot be loaded; the message says which option and why."""


_SECTIONS: dict[str, type[_Section]] = {
    "server": ServerSettings,
    "log": LogSettings,
    "limits": LimitSettings,
    "identity": IdentitySettings,
}


def env_name(section: str, field: str) -> str:
    """The environment variable that sets `section.field`."""
    if section == "server":
        return f"SWITCHBOARD_{field.upper()}"
    return f"SWITCHBOARD_{section.upper()}_{field.upper()}"


def load_settings(
    config_file: Path | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Merge the file, the environment and explicit overrides into Settings."""
    env = os.environ if environ is None else environ
    merged: dict[str, dict[str, Any]] = {name: {} for name in _SECTIONS}

    # The file
    if config_file is not None:
        try:
            data = tomllib.loads(config_file.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read {config_file}: {exc}") from exc
        for section, values in data.items():
            if section not in _SECTIONS or not isinstance(values, dict):
                raise ConfigError(f"{config_file}: unknown section [{section}]")
            merged[section].update(values)

    # The environment
    for section, model in _SECTIONS.items():
        for field in model.model_fields:
            value = env.get(env_name(section, field))
            if value is not None:
                merged[section][field] = value

    # Flags
    for section, values in (overrides or {}).items():
        merged[section].update({k: v for k, v in values.items() if v is not None})

    try:
        return Settings.model_validate(merged)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigError(f"invalid configuration: {problems}") from exc


def describe_options() -> list[tuple[str, str, str, str]]:
    """Every option as (toml key, environment variable, default, description)."""
    rows = []
    for section, model in _SECTIONS.items():
        for name, info in model.model_fields.items():
            default = "" if info.default is None else str(info.default)
            rows.append(
                (
                    f"{section}.{name}",
                    env_name(section, name),
                    default,
                    info.description or "",
                )
            )
    return rows
