"""HMAC-SHA256 request signing, on the SDK's own test vector and its variants."""

from __future__ import annotations

import pytest

from switchboard.auth.hmac import (
    HmacError,
    SignedRequest,
    authorization_header,
    content_hash,
    string_to_sign,
    verify,
)

KEY = "ZW11bGF0b3Itc2VjcmV0LWtleS0zMi1ieXRlcyEhISE="
OTHER_KEY = "b3RoZXIta2V5LW9mLXRoaXJ0eS10d28tYnl0ZXMhISE="
DATE = "Mon, 01 Jan 2024 00:00:00 GMT"
NOW = 1704067200.0  # the moment DATE names
EMPTY_HASH = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
VECTOR_SIGNATURE = "QyBPCoy6uWRz3xBMs+Wla2rhVA3qElTWS5JGLODGErE="


def signed(
    path: str = "/identities?api-version=2023-10-01",
    host: str = "localhost:8443",
    body: bytes = b"",
    key: str = KEY,
    **changes: str | None,
) -> SignedRequest:
    headers = authorization_header(key, "POST", path, DATE, host, body)
    fields: dict[str, str | None] = {
        "authorization": headers["Authorization"],
        "date": headers["x-ms-date"],
        "content_sha256": headers["x-ms-content-sha256"],
    }
    fields.update(changes)
    return SignedRequest(
        method="POST",
        path_and_query=path,
        host="localhost:8443",
        body=body,
        authorization=fields["authorization"],
        date=fields["date"],
        content_sha256=fields["content_sha256"],
    )


def test_the_sdk_test_vector() -> None:
    text = string_to_sign(
        "POST", "/identities?api-version=2023-10-01", DATE, "localhost:8443", EMPTY_HASH
    )
    assert content_hash(b"") == EMPTY_HASH
    headers = authorization_header(
        KEY, "POST", "/identities?api-version=2023-10-01", DATE, "localhost:8443", b""
    )
    assert text.endswith(f"{DATE};localhost:8443;{EMPTY_HASH}")
    assert headers["Authorization"] == (
        "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256"
        f"&Signature={VECTOR_SIGNATURE}"
    )
    assert verify(signed(), [KEY], NOW, 900) == 0


def test_either_key_is_accepted_and_reported() -> None:
    assert verify(signed(key=OTHER_KEY), [KEY, OTHER_KEY], NOW, 900) == 1


def test_a_host_signed_with_a_trailing_slash() -> None:
    assert verify(signed(host="localhost:8443/"), [KEY], NOW, 900) == 0


def test_a_path_signed_percent_decoded() -> None:
    raw = "/identities/8%3Aacs%3Ar_u/:issueAccessToken?api-version=2023-10-01"
    decoded = "/identities/8:acs:r_u/:issueAccessToken?api-version=2023-10-01"
    request = signed(path=decoded)
    request = SignedRequest(**{**_fields(request), "path_and_query": raw})
    assert verify(request, [KEY], NOW, 900) == 0


def _fields(request: SignedRequest) -> dict[str, object]:
    return {name: getattr(request, name) for name in SignedRequest.__slots__}


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (signed(authorization=None), "the request has no Authorization header"),
        (
            signed(authorization="Bearer abc"),
            "the Authorization scheme is not HMAC-SHA256",
        ),
        (
            signed(authorization="HMAC-SHA256 SignedHeaders=host&Signature=x"),
            "SignedHeaders must be x-ms-date;host;x-ms-content-sha256",
        ),
        (
            signed(
                authorization="HMAC-SHA256 "
                "SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature="
            ),
            "the Authorization header has no Signature",
        ),
        (signed(date=None), "the request has no x-ms-date header"),
        (signed(date="yesterday"), "x-ms-date is not an RFC 1123 date"),
        (signed(content_sha256=None), "the request has no x-ms-content-sha256 header"),
        (
            signed(content_sha256=content_hash(b"{}")),
            "x-ms-content-sha256 does not match the body",
        ),
        (signed(key=OTHER_KEY), "the signature does not match any access key"),
    ],
)
def test_each_failed_check_is_named(request_: SignedRequest, message: str) -> None:
    with pytest.raises(HmacError) as caught:
        verify(request_, [KEY], NOW, 900)
    assert str(caught.value) == message


def test_a_body_changed_after_signing_is_refused() -> None:
    request = signed(body=b'{"scopes":["chat"]}')
    tampered = SignedRequest(**{**_fields(request), "body": b'{"scopes":["voip"]}'})
    with pytest.raises(HmacError, match="does not match the body"):
        verify(tampered, [KEY], NOW, 900)


@pytest.mark.parametrize("offset", [-901.0, 901.0])
def test_a_date_more_than_fifteen_minutes_off_is_refused(offset: float) -> None:
    with pytest.raises(HmacError, match="more than 15 minutes"):
        verify(signed(), [KEY], NOW + offset, 900)


@pytest.mark.parametrize("offset", [-899.0, 899.0])
def test_a_date_within_fifteen_minutes_is_accepted(offset: float) -> None:
    assert verify(signed(), [KEY], NOW + offset, 900) == 0
