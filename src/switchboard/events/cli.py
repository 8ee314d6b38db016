"""`switchboard events`: manage webhook subscriptions through the node's REST API."""

from __future__ import annotations

import json
import ssl
from email.utils import formatdate
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import typer

from switchboard.auth.hmac import authorization_header
from switchboard.events.api import API_VERSIONS

app = typer.Typer(
    help="Create, list, change and delete webhook subscriptions; list and replay "
    "dead letters. Talks to a running node with the connection string.",
    no_args_is_help=True,
)

DataDir = Annotated[
    Path,
    typer.Option(help="Data folder holding connection-string and ca.pem."),
]
ConnOpt = Annotated[
    str | None,
    typer.Option(
        "--connection-string",
        envvar="SWITCHBOARD_CONNECTION_STRING",
        help="endpoint=...;accesskey=... (default: <data-dir>/connection-string).",
    ),
]
VERSION = max(API_VERSIONS)


class Api:
    """A small HMAC-signing client for the events API."""

    def __init__(self, data_dir: Path, connection_string: str | None) -> None:
        text = connection_string
        if text is None:
            path = data_dir / "connection-string"
            if not path.exists():
                raise typer.BadParameter(f"no connection string at {path}")
            text = path.read_text().strip()
        parts = dict(p.split("=", 1) for p in text.split(";") if "=" in p)
        parts = {k.lower(): v for k, v in parts.items()}
        self.endpoint = parts["endpoint"].rstrip("/")
        self.key = parts["accesskey"]
        ca = data_dir / "ca.pem"
        self.verify: ssl.SSLContext = ssl.create_default_context(
            cafile=str(ca) if ca.exists() else None
        )

    def call(self, method: str, path: str, body: Any = None) -> Any:
        """Send one signed request; print the ACS error and exit on failure."""
        sep = "&" if "?" in path else "?"
        path = f"{path}{sep}api-version={VERSION}"
        content = b"" if body is None else json.dumps(body).encode()
        host = urlsplit(self.endpoint).netloc
        headers = authorization_header(
            self.key, method, path, formatdate(usegmt=True), host, content
        )
        headers["Content-Type"] = "application/json"
        response = httpx.request(
            method, self.endpoint + path, content=content, headers=headers,
            verify=self.verify, timeout=30,
        )  # fmt: skip
        if response.status_code >= 400:
            typer.echo(f"{response.status_code}: {response.text}", err=True)
            raise typer.Exit(1)
        return response.json() if response.content else None

    def every(self, path: str) -> list[Any]:
        """All items of a paged list, following each `nextLink`'s token."""
        page = self.call("GET", path)
        items = list(page["value"])
        while page.get("nextLink"):
            query = parse_qs(urlsplit(page["nextLink"]).query)
            token = quote(query["continuationToken"][0], safe="")
            page = self.call("GET", f"{path}?continuationToken={token}")
            items += page["value"]
        return items


def _show(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2))


def _body(
    url: str | None,
    types: list[str] | None,
    prefix: str | None,
    envelope: str | None,
    secret: str | None,
    attempts: int | None,
    ttl: int | None,
) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for key, value in (
        ("targetUrl", url), ("eventTypes", types), ("subjectBeginsWith", prefix),
        ("envelope", envelope), ("secret", secret),
    ):  # fmt: skip
        if value is not None:
            body[key] = value
    if attempts is not None or ttl is not None:
        body["retryPolicy"] = {
            k: v
            for k, v in (
                ("maxDeliveryAttempts", attempts), ("eventTimeToLiveInMinutes", ttl)
            )
            if v is not None
        }  # fmt: skip
    return body


Url = Annotated[str | None, typer.Option("--url", help="The webhook's URL.")]
RequiredUrl = Annotated[str, typer.Option("--url", help="The webhook's URL.")]
Types = Annotated[
    list[str] | None,
    typer.Option("--type", help="An event type to deliver (repeat); default all."),
]
Prefix = Annotated[
    str | None, typer.Option("--subject-prefix", help="Only subjects starting so.")
]
EnvelopeOpt = Annotated[
    str | None, typer.Option("--envelope", help="eventgrid (default) or cloudevents.")
]
Secret = Annotated[
    str | None,
    typer.Option("--secret", help="Signing secret (16+ chars); generated if absent."),
]
Attempts = Annotated[
    int | None, typer.Option("--max-attempts", help="Delivery attempts (1-30).")
]
Ttl = Annotated[
    int | None, typer.Option("--ttl-minutes", help="Give up after (1-1440).")
]


def _path(name: str) -> str:
    return f"/eventSubscriptions/{quote(name, safe='')}"


@app.command("create")
def create(
    name: str,
    url: RequiredUrl,
    types: Types = None,
    prefix: Prefix = None,
    envelope: EnvelopeOpt = None,
    secret: Secret = None,
    attempts: Attempts = None,
    ttl: Ttl = None,
    data_dir: DataDir = Path(".switchboard"),
    connection_string: ConnOpt = None,
) -> None:
    """Create or replace a subscription (its handshake follows)."""
    body = _body(url, types, prefix, envelope, secret, attempts, ttl)
    _show(Api(data_dir, connection_string).call("PUT", _path(name), body))


@app.command("update")
def update(
    name: str,
    url: Url = None,
    types: Types = None,
    prefix: Prefix = None,
    envelope: EnvelopeOpt = None,
    secret: Secret = None,
    attempts: Attempts = None,
    ttl: Ttl = None,
    data_dir: DataDir = Path(".switchboard"),
    connection_string: ConnOpt = None,
) -> None:
    """Change some fields of a subscription."""
    body = _body(url, types, prefix, envelope, secret, attempts, ttl)
    _show(Api(data_dir, connection_string).call("PATCH", _path(name), body))


@app.command("list")
def list_(
    data_dir: DataDir = Path(".switchboard"), connection_string: ConnOpt = None
) -> None:
    """List every subscription."""
    _show(Api(data_dir, connection_string).every("/eventSubscriptions"))


@app.command("show")
def show(
    name: str,
    data_dir: DataDir = Path(".switchboard"),
    connection_string: ConnOpt = None,
) -> None:
    """Show one subscription and its state."""
    _show(Api(data_dir, connection_string).call("GET", _path(name)))


@app.command("delete")
def delete(
    name: str,
    data_dir: DataDir = Path(".switchboard"),
    connection_string: ConnOpt = None,
) -> None:
    """Delete a subscription."""
    Api(data_dir, connection_string).call("DELETE", _path(name))


@app.command("validate")
def validate(
    name: str,
    data_dir: DataDir = Path(".switchboard"),
    connection_string: ConnOpt = None,
) -> None:
    """Run a subscription's handshake again."""
    _show(Api(data_dir, connection_string).call("POST", _path(name) + "/:validate"))


@app.command("dead-letters")
def dead_letters(
    name: str,
    data_dir: DataDir = Path(".switchboard"),
    connection_string: ConnOpt = None,
) -> None:
    """List the events a subscription gave up on."""
    _show(Api(data_dir, connection_string).every(_path(name) + "/deadLetters"))


@app.command("replay")
def replay(
    name: str,
    item: Annotated[
        str | None, typer.Option("--id", help="One dead letter; default all.")
    ] = None,
    data_dir: DataDir = Path(".switchboard"),
    connection_string: ConnOpt = None,
) -> None:
    """Deliver dead letters again."""
    path = _path(name) + "/deadLetters"
    path += f"/{quote(item, safe='')}/:replay" if item else "/:replay"
    _show(Api(data_dir, connection_string).call("POST", path))
