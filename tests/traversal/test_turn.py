"""The TURN server over real loopback sockets, with a fake clock."""

from __future__ import annotations

import asyncio
import os
import ssl
import time
from pathlib import Path

import pytest

from switchboard.traversal import TurnServer, issue_credentials
from switchboard.traversal.stun import (
    AddressFamily,
    AttributeType,
    Message,
    MessageClass,
    Method,
    PasswordAlgorithm,
    check_integrity,
    decode_address,
    decode_error_code,
    decode_unknown_attributes,
    encode_family,
    encode_requested_transport,
    encode_u32,
    parse_message,
)
from tests.traversal.conftest import SECRET, FakeClock, ServerFactory
from tests.traversal.turnclient import (
    Peer,
    TurnClient,
    attr,
    error_of,
    lifetime,
    relayed,
)

TLS = tuple[ssl.SSLContext, ssl.SSLContext, Path, Path]


def sample(server: TurnServer, name: str, **labels: str) -> float:
    """A metric value from the server's registry."""
    value = server.registry.get_sample_value(name, labels or None)
    return value or 0.0


async def client_for(
    server: TurnServer, kind: str = "udp", user: str = "alice", tls: TLS | None = None
) -> TurnClient:
    """A connected client holding fresh credentials."""
    client = await TurnClient.connect(
        kind, ("127.0.0.1", server.ports[kind]), tls[1] if tls else None
    )
    client.credentials = issue_credentials(SECRET, user, 3600, time.time())
    return client


@pytest.mark.parametrize("kind", ["udp", "tcp", "tls"])
async def test_binding_returns_the_reflexive_address(
    make_server: ServerFactory, tls_context: TLS, kind: str
) -> None:
    server = await make_server()
    client = await client_for(server, kind, tls=tls_context)
    request = Message(Method.BINDING, MessageClass.REQUEST, os.urandom(12))
    response = await client.transact(request)
    assert response.message_class is MessageClass.SUCCESS
    raw = response.get(AttributeType.XOR_MAPPED_ADDRESS)
    assert raw is not None
    mapped = decode_address(raw, request.transaction_id)
    assert (mapped.host, mapped.port) == client.local
    assert response.attributes[-1].type == AttributeType.FINGERPRINT
    client.close()


async def test_allocate_challenges_then_succeeds_with_integrity(
    make_server: ServerFactory,
) -> None:
    server = await make_server()
    client = await client_for(server)
    challenge = await client.challenge()
    assert error_of(challenge) == 401
    assert challenge.get(AttributeType.REALM) == b"switchboard"
    assert client.nonce.startswith("obMatJos2")
    assert challenge.get(AttributeType.PASSWORD_ALGORITHMS) is not None
    assert challenge.get(AttributeType.MESSAGE_INTEGRITY) is None

    response = await client.allocate()
    assert response.message_class is MessageClass.SUCCESS
    assert check_integrity(response, client.key())
    assert response.attributes[-1].type == AttributeType.FINGERPRINT
    [(host, port)] = relayed(response)
    assert host == "127.0.0.1" and 40000 <= port <= 40999
    assert lifetime(response) == 600
    assert sample(server, "switchboard_turn_allocations_active") == 1
    assert sample(server, "switchboard_turn_allocations_total") == 1
    client.close()


async def test_sha256_integrity_is_answered_in_kind(make_server: ServerFactory) -> None:
    server = await make_server()
    client = await client_for(server)
    await client.challenge()
    client.sha256 = True
    response = await client.allocate()
    assert response.message_class is MessageClass.SUCCESS
    assert response.get(AttributeType.MESSAGE_INTEGRITY_SHA256) is not None
    assert check_integrity(response, client.key(PasswordAlgorithm.SHA256))
    client.close()


async def test_wrong_or_expired_credentials_get_401(make_server: ServerFactory) -> None:
    server = await make_server()
    client = await client_for(server)
    await client.challenge()
    good = client.credentials
    assert good is not None
    client.credentials = type(good)(good.username, "wrong", good.expires_at)
    assert error_of(await client.allocate()) == 401
    client.credentials = issue_credentials(SECRET, "alice", 10, time.time() - 100)
    response = await client.allocate()
    assert error_of(response) == 401
    assert response.get(AttributeType.NONCE) is not None
    assert (
        sample(server, "switchboard_turn_auth_failures_total", reason="unknown_user")
        == 1
    )
    assert (
        sample(server, "switchboard_turn_auth_failures_total", reason="wrong_password")
        == 1
    )
    client.close()


async def test_stale_nonce_gets_438_and_a_new_nonce(
    make_server: ServerFactory, clock: FakeClock
) -> None:
    server = await make_server(nonce_lifetime_s=30)
    client = await client_for(server)
    assert (await client.allocate()).message_class is MessageClass.SUCCESS
    clock.advance(31)
    old_nonce = client.nonce
    response = await client.refresh(600)
    assert error_of(response) == 438
    client.learn(response)
    assert client.nonce != old_nonce
    assert (await client.refresh(600)).message_class is MessageClass.SUCCESS
    client.close()


async def test_second_allocate_is_a_mismatch_but_retransmission_is_replayed(
    make_server: ServerFactory,
) -> None:
    server = await make_server()
    client = await client_for(server)
    await client.challenge()
    request = client.signed(
        Method.ALLOCATE,
        attr(AttributeType.REQUESTED_TRANSPORT, encode_requested_transport(17)),
    )
    first = await client.transact(request)
    again = await client.transact(request)
    assert bytes(first) == bytes(again)
    assert error_of(await client.allocate()) == 437
    client.close()


async def test_requests_without_allocation_get_437_and_other_users_441(
    make_server: ServerFactory,
) -> None:
    server = await make_server()
    client = await client_for(server)
    await client.challenge()
    assert error_of(await client.refresh(600)) == 437
    assert (await client.allocate()).message_class is MessageClass.SUCCESS
    client.credentials = issue_credentials(SECRET, "mallory", 3600, time.time())
    assert error_of(await client.refresh(600)) == 441
    assert error_of(await client.permit(("127.0.0.1", 9))) == 441
    client.close()


async def test_quotas_per_user_and_in_total(make_server: ServerFactory) -> None:
    server = await make_server(max_allocations_per_user=2, max_allocations_total=3)
    clients = [await client_for(server, user="alice") for _ in range(3)]
    results = [error_of(await c.allocate()) for c in clients]
    assert results == [None, None, 486]
    bob = await client_for(server, user="bob")
    assert error_of(await bob.allocate()) is None
    carol = await client_for(server, user="carol")
    assert error_of(await carol.allocate()) == 486
    for c in [*clients, bob, carol]:
        c.close()


async def test_exhausted_relay_ports_give_508(make_server: ServerFactory) -> None:
    server = await make_server(relay_port_min=40500, relay_port_max=40500)
    first = await client_for(server)
    second = await client_for(server, user="bob")
    assert error_of(await first.allocate()) is None
    assert error_of(await second.allocate()) == 508
    assert error_of(await first.refresh(0)) is None
    assert error_of(await second.allocate()) is None
    first.close()
    second.close()


async def test_lifetimes_are_clamped_refreshed_and_expire(
    make_server: ServerFactory, clock: FakeClock
) -> None:
    server = await make_server(nonce_lifetime_s=7200)
    client = await client_for(server)
    response = await client.allocate(attr(AttributeType.LIFETIME, encode_u32(99999)))
    assert lifetime(response) == 3600
    assert lifetime(await client.refresh(5)) == 600
    clock.advance(599)
    server.sweep()
    assert len(server.allocations) == 1
    clock.advance(2)
    server.sweep()
    assert not server.allocations
    assert sample(server, "switchboard_turn_allocations_active") == 0
    assert error_of(await client.refresh(600)) == 437
    client.close()


async def test_refresh_with_zero_lifetime_deletes(make_server: ServerFactory) -> None:
    server = await make_server()
    client = await client_for(server)
    [relay] = relayed(await client.allocate())
    assert lifetime(await client.refresh(0)) == 0
    assert not server.allocations
    assert error_of(await client.refresh(0)) == 437
    assert relay[1] not in {p for _, p in server.pool._used}
    client.close()


async def test_send_and_data_indications_relay_both_ways(
    make_server: ServerFactory,
) -> None:
    server = await make_server()
    client = await client_for(server)
    peer = await Peer.open()
    [relay] = relayed(await client.allocate())

    # Without a permission nothing goes through.
    client.send_indication(peer.address, b"too early")
    with pytest.raises(TimeoutError):
        await peer.receive(timeout=0.2)

    assert error_of(await client.permit(peer.address)) is None
    client.send_indication(peer.address, b"hello peer")
    data, source = await peer.receive()
    assert (data, source) == (b"hello peer", relay)
    peer.send(b"hello client", relay)
    assert await client.next_data() == ("data", peer.address, b"hello client")
    assert (
        sample(server, "switchboard_turn_relayed_packets_total", direction="to_peer")
        == 1
    )
    assert (
        sample(server, "switchboard_turn_relayed_bytes_total", direction="to_client")
        == 12
    )
    client.close()
    peer.close()


@pytest.mark.parametrize("kind", ["udp", "tcp"])
async def test_channels_relay_between_two_peers(
    make_server: ServerFactory, kind: str
) -> None:
    server = await make_server()
    client = await client_for(server, kind)
    peer_a, peer_b = await Peer.open(), await Peer.open()
    [relay] = relayed(await client.allocate())
    assert error_of(await client.bind(0x4001, peer_a.address)) is None
    assert error_of(await client.bind(0x4002, peer_b.address)) is None
    assert error_of(await client.bind(0x4003, peer_a.address)) == 400
    assert error_of(await client.bind(0x3FFF, peer_a.address)) == 400

    client.send_channel(0x4001, b"to a")
    client.send_channel(0x4002, b"to b!")
    assert (await peer_a.receive())[0] == b"to a"
    assert (await peer_b.receive())[0] == b"to b!"
    peer_b.send(b"from b", relay)
    assert await client.next_data() == ("channel", 0x4002, b"from b")
    client.close()
    peer_a.close()
    peer_b.close()


async def test_permissions_expire_after_300_seconds(
    make_server: ServerFactory, clock: FakeClock
) -> None:
    server = await make_server()
    client = await client_for(server)
    peer = await Peer.open()
    [relay] = relayed(await client.allocate())
    await client.permit(peer.address)
    clock.advance(301)
    server.sweep()
    peer.send(b"late", relay)
    with pytest.raises(TimeoutError):
        await client.next_data(timeout=0.2)
    client.close()
    peer.close()


async def test_closing_a_tcp_connection_deletes_its_allocation(
    make_server: ServerFactory,
) -> None:
    server = await make_server()
    client = await client_for(server, "tcp")
    await client.allocate()
    assert len(server.allocations) == 1
    client.close()
    for _ in range(50):
        if not server.allocations:
            break
        await asyncio.sleep(0.01)
    assert not server.allocations


async def test_loopback_peer_is_forbidden_without_allow_list(
    make_server: ServerFactory,
) -> None:
    server = await make_server(allowed_peers=())
    client = await client_for(server)
    await client.allocate()
    assert error_of(await client.permit(("127.0.0.1", 5000))) == 403
    assert error_of(await client.bind(0x4000, ("127.0.0.1", 5000))) == 403
    assert error_of(await client.permit(("169.254.169.254", 80))) == 403
    assert sample(server, "switchboard_turn_rejected_peers_total") == 3
    client.close()


async def test_server_own_ports_are_forbidden_even_when_allow_listed(
    make_server: ServerFactory,
) -> None:
    server = await make_server()
    client = await client_for(server)
    await client.allocate()
    assert error_of(await client.permit(("127.0.0.1", server.ports["udp"]))) == 403
    client.close()


async def test_unknown_required_attribute_gets_420(make_server: ServerFactory) -> None:
    server = await make_server()
    client = await client_for(server)
    response = await client.allocate(attr(0x7777, b"????"), attr(0xC001, b""))
    assert error_of(response) == 420
    raw = response.get(AttributeType.UNKNOWN_ATTRIBUTES)
    assert raw is not None and decode_unknown_attributes(raw) == (0x7777,)
    binding = Message(
        Method.BINDING, MessageClass.REQUEST, os.urandom(12), (attr(0x0042, b""),)
    )
    assert error_of(await client.transact(binding)) == 420
    client.close()


async def test_bad_allocate_requests(make_server: ServerFactory) -> None:
    server = await make_server()
    client = await client_for(server)
    await client.challenge()
    assert error_of(await client.call(Method.ALLOCATE)) == 400
    tcp = attr(AttributeType.REQUESTED_TRANSPORT, encode_requested_transport(6))
    assert error_of(await client.call(Method.ALLOCATE, tcp)) == 442
    both = (
        attr(AttributeType.REQUESTED_ADDRESS_FAMILY, encode_family(AddressFamily.IPV4)),
        attr(
            AttributeType.ADDITIONAL_ADDRESS_FAMILY, encode_family(AddressFamily.IPV6)
        ),
    )
    assert error_of(await client.allocate(*both)) == 400
    assert error_of(await client.call(Method.SEND)) == 400
    client.close()


async def test_ipv6_relays_and_family_rules(make_server: ServerFactory) -> None:
    server = await make_server(relay_host_v6="::1")
    v6 = attr(AttributeType.REQUESTED_ADDRESS_FAMILY, encode_family(AddressFamily.IPV6))
    client = await client_for(server)
    [(host, _)] = relayed(await client.allocate(v6))
    assert host == "::1"
    assert error_of(await client.permit(("127.0.0.1", 9))) == 443
    peer = await Peer.open("::1")
    assert error_of(await client.permit(peer.address)) is None
    client.send_indication(peer.address, b"over six")
    assert (await peer.receive())[0] == b"over six"

    dual = await client_for(server, user="bob")
    extra = attr(
        AttributeType.ADDITIONAL_ADDRESS_FAMILY, encode_family(AddressFamily.IPV6)
    )
    hosts = [h for h, _ in relayed(await dual.allocate(extra))]
    assert hosts == ["127.0.0.1", "::1"]
    for c in (client, dual):
        c.close()
    peer.close()


async def test_ipv6_without_a_v6_relay_gets_440(make_server: ServerFactory) -> None:
    server = await make_server()
    client = await client_for(server)
    v6 = attr(AttributeType.REQUESTED_ADDRESS_FAMILY, encode_family(AddressFamily.IPV6))
    assert error_of(await client.allocate(v6)) == 440
    extra = attr(
        AttributeType.ADDITIONAL_ADDRESS_FAMILY, encode_family(AddressFamily.IPV6)
    )
    response = await client.allocate(extra)
    assert error_of(response) is None
    raw = response.get(AttributeType.ADDRESS_ERROR_CODE)
    assert raw is not None and decode_error_code(raw)[0] == 440
    assert len(relayed(response)) == 1
    client.close()


async def test_even_port_reservation(make_server: ServerFactory) -> None:
    server = await make_server()
    first = await client_for(server)
    response = await first.allocate(attr(AttributeType.EVEN_PORT, b"\x80"))
    [(_, port)] = relayed(response)
    token = response.get(AttributeType.RESERVATION_TOKEN)
    assert port % 2 == 0 and token is not None
    second = await client_for(server)
    reserved = await second.allocate(attr(AttributeType.RESERVATION_TOKEN, token))
    assert relayed(reserved)[0][1] == port + 1
    first.close()
    second.close()


async def test_bandwidth_cap_drops_excess(make_server: ServerFactory) -> None:
    server = await make_server(bandwidth_bytes_per_s=4096)
    client = await client_for(server)
    peer = await Peer.open()
    await client.allocate()
    await client.bind(0x4000, peer.address)
    for _ in range(20):
        client.send_channel(0x4000, bytes(1000))
    received = 0
    while True:
        try:
            await peer.receive(timeout=0.2)
        except TimeoutError:
            break
        received += 1
    assert 3 <= received <= 6
    assert (
        sample(server, "switchboard_turn_dropped_packets_total", reason="bandwidth") > 0
    )
    client.close()
    peer.close()


async def test_challenges_are_rate_limited_per_source(
    make_server: ServerFactory,
) -> None:
    server = await make_server(unauthenticated_replies_per_s=2)
    client = await client_for(server)
    assert error_of(await client.challenge()) == 401
    assert error_of(await client.challenge()) == 401
    with pytest.raises(TimeoutError):
        await client.challenge()
    client.close()


async def test_garbage_is_dropped_silently(make_server: ServerFactory) -> None:
    server = await make_server()
    client = await client_for(server)
    for junk in (b"\xff" * 40, b"GET / HTTP/1.1\r\n\r\n", b"\x40\x00\x00\x10", b"\x00"):
        client.send_raw(junk)
    with pytest.raises(TimeoutError):
        await client.receive(timeout=0.2)
    request = Message(Method.BINDING, MessageClass.REQUEST, os.urandom(12))
    assert (await client.transact(request)).message_class is MessageClass.SUCCESS
    assert parse_message(bytes(request)) == request
    client.close()
