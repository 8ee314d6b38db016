"""Rooms: create, read, change and delete rooms, manage their participants, and
tell the calling service who may join a room's call in which role."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, replace

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from switchboard.bus import Bus
from switchboard.bus.base import Message
from switchboard.config import RoomsSettings
from switchboard.core.clock import Clock, iso8601
from switchboard.core.errors import AcsError, ErrorCode, ErrorDetail, forbidden
from switchboard.core.ids import parse_user_id
from switchboard.identity.service import USER_CHANGED
from switchboard.rooms import store
from switchboard.rooms.errors import (
    BAD_ARGUMENT,
    BAD_IDENTIFIER,
    BAD_PARTICIPANTS,
    bad_argument,
    bad_participants,
    room_not_found,
)
from switchboard.rooms.roles import Role
from switchboard.rooms.store import Room
from switchboard.storage.engine import Database

log = logging.getLogger(__name__)

MAX_WINDOW_S = 180 * 86400.0
"""ACS: a room is valid for at most 180 days, and opens at most 180 days ahead."""


@dataclass(frozen=True, slots=True)
class Repeatability:
    """A create request's `Repeatability-Request-ID` and a hash of what it asked."""

    request_id: str
    body_hash: str


@dataclass(frozen=True, slots=True)
class Created:
    """The room a create request made; `replayed` when an earlier request made it."""

    room: Room
    replayed: bool


@dataclass(frozen=True, slots=True)
class RoomsPage:
    """One page of rooms and the seq to continue before, None on the last page."""

    rooms: list[Room]
    next_before: int | None


@dataclass(frozen=True, slots=True)
class ParticipantsPage:
    """One page of (raw id, role) and the raw id to continue after, or None."""

    participants: list[tuple[str, Role]]
    next_after: str | None


def new_room_id() -> str:
    """A fresh room id: 17 decimal digits, as ACS room ids look."""
    return str(10**16 + secrets.randbelow(9 * 10**16))


class RoomsService:
    """The rooms of one resource."""

    def __init__(
        self,
        db: Database,
        bus: Bus,
        settings: RoomsSettings,
        resource_id: str,
        clock: Clock,
    ) -> None:
        self._db = db
        self._bus = bus
        self.settings = settings
        self._resource_id = resource_id
        self._clock = clock

    async def start(self) -> None:
        """Follow user deletions, which take the user out of every room."""
        await self._bus.subscribe(USER_CHANGED, self._on_user_changed)

    async def _on_user_changed(self, message: Message) -> None:
        raw = str(message.get("user"))
        async with self._db.engine.begin() as conn:
            if await store.existing_users(conn, [raw]):
                return
            removed = await store.remove_user(conn, raw)
        if removed:
            log.info("user %s deleted: removed from %d rooms", raw, removed)

    # Rooms

    async def create(
        self,
        valid_from: float | None,
        valid_until: float | None,
        pstn_dial_out_enabled: bool,
        participants: Mapping[str, Role],
        repeat: Repeatability | None,
    ) -> Created:
        """A new room, or the room an earlier request with the same id made."""
        if repeat is not None:
            earlier = await self._replay(repeat)
            if earlier is not None:
                return earlier

        now = self._clock()
        start, end = self._window(now, valid_from, valid_until, None)
        room = Room(new_room_id(), now, start, end, pstn_dial_out_enabled)
        self._check_size(0, len(participants))
        try:
            async with self._db.engine.begin() as conn:
                await self._check_users(conn, participants, create=True)
                if repeat is not None:
                    await store.insert_request(
                        conn, repeat.request_id, repeat.body_hash, room
                    )
                await store.insert_room(conn, room)
                await store.apply_participants(conn, room.id, participants)
        except IntegrityError:
            # The same request arrived twice at once and the other one won.
            if repeat is not None:
                earlier = await self._replay(repeat)
                if earlier is not None:
                    return earlier
            raise
        log.info(
            "room %s created valid %s..%s participants=%d",
            room.id,
            iso8601(room.valid_from),
            iso8601(room.valid_until),
            len(participants),
        )
        return Created(room, replayed=False)

    async def _replay(self, repeat: Repeatability) -> Created | None:
        async with self._db.engine.connect() as conn:
            earlier = await store.find_request(conn, repeat.request_id)
        if earlier is None:
            return None
        if earlier.body_hash != repeat.body_hash:
            raise AcsError(
                409,
                ErrorCode.CONFLICT,
                "the Repeatability-Request-ID was already used for a different request",
                target="Repeatability-Request-ID",
                headers={"Repeatability-Result": "rejected"},
            )
        log.info("room %s create replayed", earlier.room.id)
        return Created(earlier.room, replayed=True)

    async def get(self, room_id: str) -> Room:
        """The room; 404 when there is none."""
        async with self._db.engine.connect() as conn:
            room = await store.get_room(conn, room_id)
        if room is None:
            raise room_not_found()
        return room

    async def update(
        self,
        room_id: str,
        valid_from: float | None,
        valid_until: float | None,
        pstn_dial_out_enabled: bool | None,
    ) -> Room:
        """Change what is given (None leaves a field as it is); 404 for no room."""
        async with self._db.engine.begin() as conn:
            room = await store.get_room(conn, room_id)
            if room is None:
                raise room_not_found()
            start, end = self._window(self._clock(), valid_from, valid_until, room)
            changed = replace(
                room,
                valid_from=start,
                valid_until=end,
                pstn_dial_out_enabled=room.pstn_dial_out_enabled
                if pstn_dial_out_enabled is None
                else pstn_dial_out_enabled,
            )
            if not await store.save_room(conn, changed):
                raise room_not_found()
        if changed != room:
            log.info(
                "room %s updated valid %s..%s pstnDialOut=%s",
                room_id,
                iso8601(changed.valid_from),
                iso8601(changed.valid_until),
                changed.pstn_dial_out_enabled,
            )
        return changed

    async def delete(self, room_id: str) -> None:
        """Delete the room and its participant list; nothing to do when it is gone."""
        async with self._db.engine.begin() as conn:
            deleted = await store.delete_room(conn, room_id)
        if deleted:
            log.info("room %s deleted", room_id)

    async def list_rooms(self, before: int | None, size: int) -> RoomsPage:
        """The rooms of the resource, newest first, `size` at a time."""
        async with self._db.engine.connect() as conn:
            rows = await store.list_rooms(conn, before, size + 1)
        more = len(rows) > size
        rows = rows[:size]
        next_before = rows[-1][0] if more else None
        return RoomsPage([room for _, room in rows], next_before)

    # Participants

    async def list_participants(
        self, room_id: str, after: str | None, size: int
    ) -> ParticipantsPage:
        """The room's participants by raw id, `size` at a time; 404 for no room."""
        async with self._db.engine.connect() as conn:
            if await store.get_room(conn, room_id) is None:
                raise room_not_found()
            rows = await store.list_participants(conn, room_id, after, size + 1)
        more = len(rows) > size
        rows = rows[:size]
        return ParticipantsPage(rows, rows[-1][0] if more else None)

    async def update_participants(
        self, room_id: str, changes: Mapping[str, Role | None]
    ) -> None:
        """Add or re-role each participant given a role; remove those given None."""
        additions = {raw: role for raw, role in changes.items() if role is not None}
        for attempt in range(2):
            try:
                async with self._db.engine.begin() as conn:
                    if await store.get_room(conn, room_id) is None:
                        raise room_not_found()
                    await self._check_users(conn, additions, create=False)
                    await store.apply_participants(conn, room_id, changes)
                    count = await store.count_participants(conn, room_id)
                    self._check_size(count, 0)
                break
            except IntegrityError:
                # Another request added one of these users meanwhile; once more
                # finds its row and updates it instead.
                if attempt == 1:
                    raise
        removed = sum(1 for role in changes.values() if role is None)
        log.info(
            "room %s participants: %d set, %d removed, %d now",
            room_id,
            len(additions),
            removed,
            count,
        )

    # Joining a room's call

    async def join_role(self, room_id: str, user: str, now: float) -> str:
        """The role `user` joins the room's call in.

        Raises:
            AcsError: 404 when the room does not exist; 403 when the user is not
                a participant, or `now` is before the room opens or after it
                closes (the message says which).
        """
        async with self._db.engine.connect() as conn:
            room = await store.get_room(conn, room_id)
            role = None
            if room is not None:
                role = await store.participant_role(conn, room_id, user)
        if room is None:
            raise room_not_found()
        if role is None:
            raise forbidden(f"{user} is not a participant of room {room_id}")
        if now < room.valid_from:
            raise forbidden(
                f"room {room_id} is not open yet: it opens at "
                f"{iso8601(room.valid_from)}"
            )
        if now >= room.valid_until:
            raise forbidden(
                f"room {room_id} is closed: it closed at {iso8601(room.valid_until)}"
            )
        return role.value

    # Checks

    def _window(
        self,
        now: float,
        valid_from: float | None,
        valid_until: float | None,
        current: Room | None,
    ) -> tuple[float, float]:
        """The validity window a request asks for, with ACS's defaults and limits."""
        if current is None:
            start = now if valid_from is None else valid_from
            end = start + MAX_WINDOW_S if valid_until is None else valid_until
        else:
            start = current.valid_from if valid_from is None else valid_from
            end = current.valid_until if valid_until is None else valid_until
        if start > now + MAX_WINDOW_S:
            raise bad_argument(
                "ValidFrom", "Value is incorrect or more than 180 days in the future."
            )
        if end < now:
            raise bad_argument("ValidUntil", "The time range end is in the past.")
        if end <= start or end - start > MAX_WINDOW_S:
            raise bad_argument(
                "ValidUntil", "The time range is incorrect, or larger than 180 days."
            )
        return start, end

    def _check_size(self, current: int, adding: int) -> None:
        limit = self.settings.max_participants
        if current + adding > limit:
            raise bad_argument(
                "Participants",
                f"A room has at most {limit} participants; this request would "
                f"make it {current + adding}.",
            )

    async def _check_users(
        self, conn: AsyncConnection, wanted: Mapping[str, Role], *, create: bool
    ) -> None:
        """Every raw id must be a live user of this resource."""
        problems: list[ErrorDetail] = []
        own: list[str] = []
        for raw in wanted:
            user = parse_user_id(raw)
            if user is None:
                problems.append(
                    ErrorDetail(
                        BAD_ARGUMENT,
                        "not the raw id of a communication user "
                        "(8:acs:<resource id>_<uuid>)",
                        raw,
                    )
                )
            elif user.resource_id != self._resource_id:
                problems.append(
                    ErrorDetail(
                        BAD_ARGUMENT, "the user belongs to another resource", raw
                    )
                )
            else:
                own.append(raw)
        found = await store.existing_users(conn, own)
        problems += [
            ErrorDetail(BAD_ARGUMENT, "the user does not exist", raw)
            for raw in own
            if raw not in found
        ]
        if not problems:
            return
        malformed = any(parse_user_id(d.target or "") is None for d in problems)
        message = BAD_IDENTIFIER if create and malformed else BAD_PARTICIPANTS
        raise bad_participants(message, problems)
