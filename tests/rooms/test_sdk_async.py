"""The official azure-communication-rooms aio client (aiohttp) against a node."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from azure.communication.identity import CommunicationIdentityClient
from azure.communication.rooms import RoomParticipant
from azure.communication.rooms.aio import RoomsClient
from azure.core.exceptions import ResourceNotFoundError

from tests.conftest import RunningServer


@pytest.fixture
async def client(server: RunningServer) -> AsyncIterator[RoomsClient]:
    # No connection_verify argument: aiohttp verifies against SSL_CERT_FILE.
    rooms = RoomsClient.from_connection_string(server.connection_string)
    async with rooms:
        yield rooms


async def test_every_operation_through_aiohttp(
    client: RoomsClient, identity: CommunicationIdentityClient
) -> None:
    ada, bob = identity.create_user(), identity.create_user()
    room = await client.create_room(
        participants=[RoomParticipant(communication_identifier=ada, role="Presenter")]
    )
    assert (await client.get_room(room.id)).id == room.id

    updated = await client.update_room(room_id=room.id, pstn_dial_out_enabled=True)
    assert updated.pstn_dial_out_enabled is True
    assert updated.valid_until == room.valid_until

    await client.add_or_update_participants(
        room_id=room.id,
        participants=[RoomParticipant(communication_identifier=bob, role="Consumer")],
    )
    await client.remove_participants(room_id=room.id, participants=[ada])
    listed = [
        (p.communication_identifier.raw_id, p.role)
        async for p in client.list_participants(room.id)
    ]
    assert listed == [(bob.raw_id, "Consumer")]

    # Every page after the first comes from a nextLink, through aiohttp.
    ids = [r.id async for r in client.list_rooms(params={"maxPageSize": 1})]
    assert ids[0] == room.id and len(ids) == len(set(ids))

    await client.delete_room(room.id)
    with pytest.raises(ResourceNotFoundError):
        await client.get_room(room.id)
