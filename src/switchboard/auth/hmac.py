"""HMAC-SHA256 request signing, as the ACS SDKs compute it.

String to sign: `VERB\\npath?query\\nx-ms-date;host;x-ms-content-sha256`, signed with
the base64-decoded access key, sent as
`HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=<b64>`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from urllib.parse import unquote

SIGNED_HEADERS = "x-ms-date;host;x-ms-content-sha256"
_SCHEME = "HMAC-SHA256"


class HmacError(Exception):
    """The request's signature does not hold; the message names the failed check."""


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """What the server knows of a request that claims an HMAC signature."""

    method: str
    path_and_query: str
    host: str
    authorization: str | None
    date: str | None
    content_sha256: str | None
    body: bytes


def content_hash(body: bytes) -> str:
    """The base64 SHA-256 of a body, the value of `x-ms-content-sha256`."""
    return base64.b64encode(hashlib.sha256(body).digest()).decode()


def string_to_sign(
    method: str, path_and_query: str, date: str, host: str, body_hash: str
) -> str:
    """The exact text the client signs."""
    return f"{method.upper()}\n{path_and_query}\n{date};{host};{body_hash}"


def sign(key_b64: str, text: str) -> str:
    """The base64 HMAC-SHA256 of `text` under a base64 access key."""
    key = base64.b64decode(key_b64)
    return base64.b64encode(
        hmac.new(key, text.encode(), hashlib.sha256).digest()
    ).decode()


def authorization_header(
    key_b64: str, method: str, path_and_query: str, date: str, host: str, body: bytes
) -> dict[str, str]:
    """The headers a client adds to sign a request (used by tests and tools)."""
    body_hash = content_hash(body)
    signature = sign(
        key_b64, string_to_sign(method, path_and_query, date, host, body_hash)
    )
    return {
        "x-ms-date": date,
        "x-ms-content-sha256": body_hash,
        "Authorization": (
            f"{_SCHEME} SignedHeaders={SIGNED_HEADERS}&Signature={signature}"
        ),
    }


def _parse_authorization(value: str) -> str:
    scheme, _, params = value.partition(" ")
    if scheme != _SCHEME:
        raise HmacError("the Authorization scheme is not HMAC-SHA256")
    fields: dict[str, str] = {}
    for part in params.strip().split("&"):
        name, sep, field_value = part.partition("=")
        if not sep:
            raise HmacError("the Authorization header is malformed")
        fields[name.strip()] = field_value.strip()
    if fields.get("SignedHeaders", "").lower() != SIGNED_HEADERS:
        raise HmacError(f"SignedHeaders must be {SIGNED_HEADERS}")
    signature = fields.get("Signature")
    if not signature:
        raise HmacError("the Authorization header has no Signature")
    return signature


def verify(request: SignedRequest, keys: list[str], now: float, max_skew_s: int) -> int:
    """Check every part of the signature; return the index of the key that signed.

    The signed host may carry a trailing slash, and the path may be signed raw or
    percent-decoded (the Rooms SDK and the aiohttp transports decode it).
    """
    if request.authorization is None:
        raise HmacError("the request has no Authorization header")
    signature = _parse_authorization(request.authorization)

    # The date
    if request.date is None:
        raise HmacError("the request has no x-ms-date header")
    try:
        sent = parsedate_to_datetime(request.date).timestamp()
    except (TypeError, ValueError) as exc:
        raise HmacError("x-ms-date is not an RFC 1123 date") from exc
    if abs(now - sent) > max_skew_s:
        raise HmacError(
            f"x-ms-date is more than {max_skew_s // 60} minutes from the server's clock"
        )

    # The body
    if request.content_sha256 is None:
        raise HmacError("the request has no x-ms-content-sha256 header")
    if not hmac.compare_digest(request.content_sha256, content_hash(request.body)):
        raise HmacError("x-ms-content-sha256 does not match the body")

    # The signature, over each form the SDKs produce
    hosts = (request.host, request.host + "/")
    paths = dict.fromkeys((request.path_and_query, unquote(request.path_and_query)))
    for index, key in enumerate(keys):
        for host in hosts:
            for path in paths:
                text = string_to_sign(
                    request.method, path, request.date, host, request.content_sha256
                )
                if hmac.compare_digest(sign(key, text), signature):
                    return index
    raise HmacError("the signature does not match any access key")
