"""Rooms and Identity clients for a node, built as the official SDKs build them."""

from __future__ import annotations

import uuid

import pytest
from azure.communication.identity import CommunicationIdentityClient
from azure.communication.rooms import RoomsClient

from tests.conftest import RunningServer


@pytest.fixture
def rooms(server: RunningServer) -> RoomsClient:
    return RoomsClient.from_connection_string(server.connection_string)


@pytest.fixture
def identity(server: RunningServer) -> CommunicationIdentityClient:
    return CommunicationIdentityClient.from_connection_string(server.connection_string)


def resource_of(raw_id: str) -> str:
    """The resource id inside a user's raw id."""
    return raw_id.removeprefix("8:acs:").split("_", 1)[0]


def unknown_user(raw_id: str) -> str:
    """A well-formed raw id in the same resource as `raw_id` that no user has."""
    return f"8:acs:{resource_of(raw_id)}_{uuid.uuid4()}"
