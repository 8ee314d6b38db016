"""The `switchboard` command."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from switchboard import __version__
from switchboard.auth.resource import KeyName
from switchboard.config import (
    ConfigError,
    Settings,
    load_settings,
    unknown_environment,
)
from switchboard.core.errors import StartupError
from switchboard.core.logs import configure_logging
from switchboard.events.cli import app as events_app

log = logging.getLogger("switchboard")

app = typer.Typer(
    help="Switchboard: a self-hosted communication platform with the ACS wire API.",
    no_args_is_help=True,
    add_completion=False,
)
keys_app = typer.Typer(help="Show or regenerate the resource's access keys.")
app.add_typer(keys_app, name="keys")
app.add_typer(events_app, name="events")

ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        envvar="SWITCHBOARD_CONFIG",
        help="A TOML configuration file (see docs/configuration.md).",
        exists=True,
        dir_okay=False,
    ),
]
DataDirOpt = Annotated[
    Path | None,
    typer.Option(
        help="Data folder (default ./.switchboard); env SWITCHBOARD_DATA_DIR."
    ),
]
DatabaseOpt = Annotated[
    str | None,
    typer.Option(
        help="Database URL (default SQLite in the data dir); a postgresql:// URL "
        "selects PostgreSQL; env SWITCHBOARD_DATABASE."
    ),
]


def _settings(config: Path | None, server: dict[str, Any]) -> Settings:
    try:
        return load_settings(config, {"server": server})
    except ConfigError as exc:
        typer.echo(f"switchboard: {exc}", err=True)
        raise typer.Exit(2) from exc


@app.command()
def serve(
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    host: Annotated[
        str | None,
        typer.Option(help="Address to listen on (default 127.0.0.1)."),
    ] = None,
    http_port: Annotated[
        int | None,
        typer.Option(help="Plain HTTP port (default 8080); 0 picks a free one."),
    ] = None,
    https_port: Annotated[
        int | None,
        typer.Option(help="HTTPS port (default 8443); 0 picks a free one."),
    ] = None,
    database: DatabaseOpt = None,
    redis: Annotated[
        str | None,
        typer.Option(help="Redis URL for several nodes (default in-process bus)."),
    ] = None,
    tls_cert: Annotated[
        Path | None,
        typer.Option(help="Your own PEM certificate chain instead of the dev CA's."),
    ] = None,
    tls_key: Annotated[
        Path | None, typer.Option(help="The private key of --tls-cert.")
    ] = None,
    json_logs: Annotated[
        bool | None, typer.Option("--json-logs", help="Log one JSON object per line.")
    ] = None,
) -> None:
    """Run a Switchboard node with every role, on embedded defaults."""
    if (tls_cert is None) != (tls_key is None):
        typer.echo("switchboard: --tls-cert and --tls-key go together", err=True)
        raise typer.Exit(2)
    settings = _settings(
        config,
        {
            "data_dir": data_dir,
            "host": host,
            "http_port": http_port,
            "https_port": https_port,
            "database": database,
            "redis": redis,
            "tls_cert": tls_cert,
            "tls_key": tls_key,
        },
    )
    if json_logs is not None:
        settings = settings.model_copy(
            update={"log": settings.log.model_copy(update={"json_lines": json_logs})}
        )
    configure_logging(settings.log.level, settings.log.json_lines)
    for warning in unknown_environment(os.environ):
        log.warning("%s", warning)

    from switchboard.node import Node

    try:
        asyncio.run(Node(settings).run())
    except StartupError as exc:
        typer.echo(f"switchboard: {exc}", err=True)
        raise typer.Exit(1) from None


async def _with_resource(
    settings: Settings, regenerate: KeyName | None
) -> dict[str, str]:
    from switchboard.auth.resource import ResourceStore
    from switchboard.core.clock import system_clock
    from switchboard.storage.engine import Database

    settings.server.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.database_url)
    try:
        await db.migrate()
        store = ResourceStore(db, system_clock)
        await store.ensure()
        if regenerate is not None:
            await store.regenerate(regenerate)
        return await store.load_access_keys()
    finally:
        await db.close()


@keys_app.command("show")
def keys_show(
    config: ConfigOpt = None, data_dir: DataDirOpt = None, database: DatabaseOpt = None
) -> None:
    """Print both access keys as JSON."""
    settings = _settings(config, {"data_dir": data_dir, "database": database})
    configure_logging("warning")
    typer.echo(json.dumps(asyncio.run(_with_resource(settings, None)), indent=2))


@keys_app.command("regenerate")
def keys_regenerate(
    which: Annotated[str, typer.Argument(help="primary or secondary")],
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    database: DatabaseOpt = None,
) -> None:
    """Replace one access key; requests signed with the other keep working."""
    names: dict[str, KeyName] = {"primary": "primary", "secondary": "secondary"}
    if which not in names:
        typer.echo("switchboard: say primary or secondary", err=True)
        raise typer.Exit(2)
    settings = _settings(config, {"data_dir": data_dir, "database": database})
    configure_logging("warning")
    keys = asyncio.run(_with_resource(settings, names[which]))

    # Keep the connection-string file in step with the primary key.
    conn_file = settings.server.data_dir / "connection-string"
    if which == "primary" and conn_file.exists():
        from switchboard.node import write_private

        endpoint = conn_file.read_text().split(";accesskey=")[0]
        write_private(conn_file, f"{endpoint};accesskey={keys['primary']}\n")
    typer.echo(json.dumps({which: keys[which]}, indent=2))


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


def main() -> None:
    """Entry point of the console script."""
    app()
