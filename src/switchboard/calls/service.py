"""The call service: starting, joining, answering, leaving and ending calls.

docs/calls.md is the contract. Each method takes the verified caller of a
realtime request and returns the method's result; errors are AcsErrors, and an
error changes nothing.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.exc import IntegrityError

from switchboard.auth.tokens import Principal, UserStates
from switchboard.calls import acs_events, store
from switchboard.calls.core import CallEvent, CoreParts, Locked
from switchboard.calls.media import MediaOps
from switchboard.calls.model import (
    PRESENTER,
    Call,
    CallKind,
    CallState,
    EndReason,
    InviteEnd,
    LeaveReason,
    Participant,
    ParticipantState,
    conflict,
    role_may,
)
from switchboard.calls.wire import call_json, participant_json
from switchboard.core.errors import AcsError, bad_request, forbidden, not_found
from switchboard.core.ids import parse_user_id
from switchboard.realtime.hub import Caller
from switchboard.traversal.service import RelayService, RouteType

log = logging.getLogger(__name__)


class RoomRoles(Protocol):
    """What calls need of the Rooms API: the role a user joins a room's call in."""

    async def join_role(self, room_id: str, user: str, now: float) -> str:
        """The role; AcsError 404 (no such room) or 403 (not allowed now)."""
        ...


@dataclass(frozen=True, slots=True)
class Target:
    """How `call.join` names the call: exactly one of these."""

    call_id: str | None = None
    group_id: str | None = None
    room_id: str | None = None


class CallService(MediaOps):
    """Every call method of the realtime protocol, and the call history."""

    def __init__(
        self,
        core: CoreParts,
        *,
        users: UserStates,
        rooms: RoomRoles | None,
        traversal: RelayService | None,
        resource_id: str,
    ) -> None:
        super().__init__(core)
        self.users = users
        self.rooms = rooms
        self.traversal = traversal
        self.resource_id = resource_id

    # Starting and joining

    async def start(
        self,
        caller: Caller,
        targets: list[str],
        subject: str,
        video: bool,
        display_name: str,
    ) -> dict[str, Any]:
        """A direct call from the caller to `targets`; it rings them."""
        me = caller.user
        callees = list(dict.fromkeys(t for t in targets if t != me))
        if not callees:
            raise bad_request("targets must name someone other than the caller",
                              target="targets")  # fmt: skip
        if len(callees) + 1 > self.settings.max_participants:
            raise bad_request(
                f"a call has at most {self.settings.max_participants} participants",
                target="targets",
            )
        for target in callees:
            await self._check_user(target)

        now = self._clock()
        call = Call(
            id=str(uuid.uuid4()),
            kind=CallKind.DIRECT,
            state=CallState.RINGING,
            created_by=me,
            created_at=now,
            subject=subject,
            video=video,
        )
        starter = Participant(
            call.id, me, display_name, ParticipantState.RINGING, PRESENTER, now
        )
        starter.video = video
        starter.move(ParticipantState.CONNECTED, now)
        invited = [
            Participant(call.id, u, "", ParticipantState.RINGING, PRESENTER, now)
            for u in callees
        ]
        people = [starter, *invited]
        async with self._db.engine.begin() as conn:
            await store.insert_call(conn, call)
            for p in people:
                await store.add_participant(conn, p)
            events = [acs_events.call_started(call, PRESENTER)]
            events += [acs_events.incoming_call(call, starter, u) for u in callees]
            events.append(acs_events.participant_added(call, starter, PRESENTER, now))
            await self._outbox.emit(conn, events)
        log.info("call %s started by %s to %d users", call.id, me, len(callees))
        self.attach(caller.connection_id, call.id, me, starter.session)

        incoming = {
            "callId": call.id,
            "caller": participant_json(starter),
            "subject": subject,
            "video": video,
            "kind": call.kind.value,
            "participants": [participant_json(p) for p in people],
        }
        lk_out = self._fresh_outcome()
        lk_out.webhook = events
        lk_out.note(callees, CallEvent.INCOMING_CALL, incoming)
        await self._follow_up(call, lk_out)
        self._ring_timer(call.id)
        return {"call": call_json(call, people, (), self._ice(caller.principal))}

    async def join(
        self, caller: Caller, target: Target, display_name: str
    ) -> dict[str, Any]:
        """Join a call by id, a group call by group id, or a room's call."""
        role = PRESENTER
        if target.room_id is not None:
            role = await self._room_role(target.room_id, caller.user)
            call_id = await self._active_or_new(
                caller.user, CallKind.ROOM, target.room_id, role
            )
        elif target.group_id is not None:
            call_id = await self._active_or_new(
                caller.user, CallKind.GROUP, target.group_id, role
            )
        else:
            assert target.call_id is not None
            call_id = target.call_id
            async with self._db.engine.connect() as conn:
                found = await store.get_call(conn, call_id)
            if found is None:
                raise not_found(f"there is no call {call_id}", target="callId")
            if found.kind is CallKind.ROOM and found.room_id is not None:
                role = await self._room_role(found.room_id, caller.user)

        async def enter(lk: Locked) -> dict[str, Any]:
            return await self._enter(lk, caller, role, display_name)

        return await self._change(call_id, enter)

    async def _enter(
        self, lk: Locked, caller: Caller, role: str, display_name: str
    ) -> dict[str, Any]:
        call, me = lk.call, caller.user
        if call.state is CallState.ENDED:
            raise conflict(f"the call {call.id} has ended")
        p = lk.people.get(me)
        if p is not None and p.state is ParticipantState.RINGING:
            self._answer(lk, caller, p, display_name)
        elif p is not None and p.state is ParticipantState.CONNECTED:
            # The same participant again (a new connection): it takes over.
            p.session += 1
            lk.touch(p)
        else:
            if p is None and call.kind is CallKind.DIRECT:
                raise forbidden(f"you are not a participant of the call {call.id}")
            if p is None:
                if len(lk.active()) >= self.settings.max_participants:
                    raise conflict(f"the call {call.id} is full")
                p = Participant(
                    call.id, me, display_name, ParticipantState.LEFT, role, lk.now
                )
                await store.add_participant(lk.conn, p)
                lk.people[me] = p
            p.role = role
            if display_name:
                p.display_name = display_name
            p.move(ParticipantState.CONNECTED, lk.now)
            self._publishing_defaults(p)
            lk.touch(p)
            self._joined(lk, p)
        self.attach(caller.connection_id, call.id, me, p.session)
        streams = await store.streams(lk.conn, call.id)
        people = list(lk.people.values())
        return {"call": call_json(call, people, streams, self._ice(caller.principal))}

    async def accept(
        self, caller: Caller, call_id: str, display_name: str
    ) -> dict[str, Any]:
        """Answer a ringing call; the callee's other connections stop ringing."""

        async def answer(lk: Locked) -> dict[str, Any]:
            p = self._ringing(lk, caller.user, "accept")
            self._answer(lk, caller, p, display_name)
            self.attach(caller.connection_id, lk.call.id, caller.user, p.session)
            streams = await store.streams(lk.conn, lk.call.id)
            people = list(lk.people.values())
            ice = self._ice(caller.principal)
            return {"call": call_json(lk.call, people, streams, ice)}

        return await self._change(call_id, answer)

    def _answer(
        self, lk: Locked, caller: Caller, p: Participant, display_name: str
    ) -> None:
        call = lk.call
        if display_name:
            p.display_name = display_name
        p.video = call.video
        p.move(ParticipantState.CONNECTED, lk.now)
        lk.touch(p)
        invite = {
            "callId": call.id,
            "reason": InviteEnd.ANSWERED_ELSEWHERE.value,
            "connectionId": caller.connection_id,
        }
        lk.out.note([p.user], CallEvent.INVITE_ENDED, invite)
        if call.state is CallState.RINGING:
            call.move(CallState.CONNECTED, lk.now)
            state = {"callId": call.id, "state": call.state.value}
            lk.out.note(lk.active(), CallEvent.STATE_CHANGED, state)
        self._joined(lk, p)

    async def decline(self, caller: Caller, call_id: str) -> dict[str, Any]:
        """Refuse a ringing call; the callee's other connections stop ringing."""

        async def refuse(lk: Locked) -> dict[str, Any]:
            p = self._ringing(lk, caller.user, "decline")
            recipients = lk.active()
            p.move(ParticipantState.DECLINED, lk.now, LeaveReason.DECLINED.value)
            lk.touch(p)
            invite = {"callId": lk.call.id, "reason": InviteEnd.DECLINED_ELSEWHERE}
            lk.out.note([p.user], CallEvent.INVITE_ENDED, invite)
            left = {
                "callId": lk.call.id,
                "participant": participant_json(p),
                "reason": LeaveReason.DECLINED.value,
            }
            others = [u for u in recipients if u != p.user]
            lk.out.note(others, CallEvent.PARTICIPANT_LEFT, left)
            await self._end_if_over(lk)
            return {}

        return await self._change(call_id, refuse)

    async def cancel(self, caller: Caller, call_id: str) -> dict[str, Any]:
        """The caller hangs up before anyone answered."""

        async def cancel(lk: Locked) -> dict[str, Any]:
            if lk.call.created_by != caller.user:
                raise forbidden("only the caller may cancel a call")
            if lk.call.state is not CallState.RINGING:
                raise conflict(
                    f"the call {lk.call.id} is {lk.call.state.value}, not ringing"
                )
            await self._end(lk, EndReason.CANCELED)
            return {}

        return await self._change(call_id, cancel)

    async def leave(self, caller: Caller, call_id: str) -> dict[str, Any]:
        """The caller leaves; the others stay unless the call is over without it."""

        async def leave(lk: Locked) -> dict[str, Any]:
            p = self._connected(lk, caller.user)
            if lk.call.state is CallState.RINGING and lk.call.created_by == caller.user:
                await self._end(lk, EndReason.CANCELED)
            else:
                await self._leave(lk, p, LeaveReason.LEFT)
            return {}

        return await self._change(call_id, leave)

    async def end(self, caller: Caller, call_id: str) -> dict[str, Any]:
        """End the call for everyone: the one who started it, or a Presenter."""

        async def end(lk: Locked) -> dict[str, Any]:
            p = self._connected(lk, caller.user)
            starter = lk.call.created_by == caller.user
            if not starter and not role_may(p.role, "end_call"):
                raise forbidden(
                    f"a participant in the {p.role} role may not end the call"
                )
            ringing = lk.call.state is CallState.RINGING
            await self._end(lk, EndReason.CANCELED if ringing else EndReason.COMPLETED)
            return {}

        return await self._change(call_id, end)

    async def update(
        self, caller: Caller, call_id: str, changes: dict[str, bool]
    ) -> dict[str, Any]:
        """Change the caller's mute, video and screen-sharing state."""

        async def update(lk: Locked) -> dict[str, Any]:
            p = self._connected(lk, caller.user)
            publishing = changes.get("video") is True or changes.get("muted") is False
            if publishing and not role_may(p.role, "publish"):
                raise forbidden(f"a participant in the {p.role} role may not publish")
            if changes.get("screenSharing") and not role_may(p.role, "share_screen"):
                raise forbidden(
                    f"a participant in the {p.role} role may not share a screen"
                )
            p.muted = changes.get("muted", p.muted)
            p.video = changes.get("video", p.video)
            p.screen_sharing = changes.get("screenSharing", p.screen_sharing)
            lk.touch(p)
            data = {"callId": lk.call.id, "participant": participant_json(p)}
            lk.out.note(lk.active(), CallEvent.PARTICIPANT_UPDATED, data)
            return {"participant": participant_json(p)}

        result = await self._change(call_id, update)
        await self.apply_mute(caller.connection_id, call_id, result["participant"])
        return result

    # Timers and lost connections

    def _ring_timer(self, call_id: str) -> None:
        async def ring_out() -> None:
            await asyncio.sleep(self.settings.ring_timeout_s)
            await self._change(call_id, self._no_answer)

        self._spawn(ring_out())

    async def _no_answer(self, lk: Locked) -> None:
        if lk.call.state is CallState.ENDED:
            return
        if lk.call.state is CallState.RINGING:
            await self._end(lk, EndReason.NO_ANSWER)
            return
        for user in lk.ringing():
            p = lk.people[user]
            p.move(ParticipantState.LEFT, lk.now, LeaveReason.NO_ANSWER.value)
            lk.touch(p)
            invite = {"callId": lk.call.id, "reason": InviteEnd.NO_ANSWER.value}
            lk.out.note([user], CallEvent.INVITE_ENDED, invite)
        await self._end_if_over(lk)

    async def connection_closed(self, connection_id: str, user: str) -> None:
        """A connection went away: its handles hang up, its calls wait for it."""
        held = await self.drop_connection(connection_id)
        grace = self.settings.reconnect_grace_s
        for call_id, session in held:
            log.info(
                "call %s: %s lost a connection; leaving in %.0f s unless it rejoins",
                call_id,
                user,
                grace,
            )
            self._spawn(self._expire(call_id, user, session, grace))

    async def _expire(
        self, call_id: str, user: str, session: int, grace: float
    ) -> None:
        await asyncio.sleep(grace)

        async def expire(lk: Locked) -> None:
            p = lk.people.get(user)
            if p is None or p.state is not ParticipantState.CONNECTED:
                return
            if p.session != session or lk.call.state is CallState.ENDED:
                return
            if lk.call.state is CallState.RINGING and lk.call.created_by == user:
                await self._end(lk, EndReason.CANCELED)
            else:
                await self._leave(lk, p, LeaveReason.CONNECTION_LOST)

        await self._change(call_id, expire)

    async def media_server_lost(self, server: str) -> None:
        """End every call whose media room was on a server that died."""
        async with self._db.engine.connect() as conn:
            call_ids = await store.calls_on_server(conn, server)
        log.warning("media server %s lost: ending %d calls", server, len(call_ids))

        async def lost(lk: Locked) -> None:
            if lk.call.state is not CallState.ENDED:
                lk.call.media_server = None
                lk.call.media_room = None
                await self._end(lk, EndReason.MEDIA_SERVER_LOST)

        for call_id in call_ids:
            try:
                await self._change(call_id, lost)
            except AcsError as exc:
                log.info("call %s: not ended after the server loss: %s", call_id, exc)

    # History

    async def history(
        self, user: str, limit: int, after: tuple[float, str] | None
    ) -> list[tuple[Call, dict[str, Any]]]:
        """The user's calls, newest first, each with its Call object."""
        async with self._db.engine.connect() as conn:
            found = await store.history(conn, user, limit, after)
            return [
                (call, call_json(call, await store.participants(conn, call)))
                for call in found
            ]

    async def get(self, user: str, call_id: str) -> dict[str, Any]:
        """One call the user took part in; 404 otherwise."""
        async with self._db.engine.connect() as conn:
            call = await store.get_call(conn, call_id)
            if call is None or not await store.is_participant(conn, call_id, user):
                raise not_found(f"there is no call {call_id}", target="callId")
            people = await store.participants(conn, call)
            streams = await store.streams(conn, call_id)
        return call_json(call, people, streams)

    # Helpers

    def _ringing(self, lk: Locked, user: str, what: str) -> Participant:
        p = lk.people.get(user)
        if p is None:
            raise forbidden(f"you are not a participant of the call {lk.call.id}")
        if lk.call.state is CallState.ENDED:
            raise conflict(f"the call {lk.call.id} has ended")
        if p.state is not ParticipantState.RINGING:
            raise conflict(
                f"cannot {what}: the call {lk.call.id} is not ringing for you "
                f"(you are {p.state.value})"
            )
        return p

    def _connected(self, lk: Locked, user: str) -> Participant:
        p = lk.people.get(user)
        if lk.call.state is CallState.ENDED:
            raise conflict(f"the call {lk.call.id} has ended")
        if p is None or p.state is not ParticipantState.CONNECTED:
            raise conflict(f"you are not connected to the call {lk.call.id}")
        return p

    def _publishing_defaults(self, p: Participant) -> None:
        if not role_may(p.role, "publish"):
            p.muted, p.video = True, False
        p.screen_sharing = False

    async def _check_user(self, raw: str) -> None:
        user = parse_user_id(raw)
        if user is None or user.resource_id != self.resource_id:
            raise bad_request(
                f"{raw!r} is not a user of this resource", target="targets"
            )
        state = await self.users.user_state(user)
        if state is None or state.deleted:
            raise not_found(f"the user {raw} does not exist", target="targets")

    async def _room_role(self, room_id: str, user: str) -> str:
        if self.rooms is None:
            raise not_found(f"there is no room {room_id}", target="roomId")
        return await self.rooms.join_role(room_id, user, self._clock())

    async def _active_or_new(
        self, creator: str, kind: CallKind, key_id: str, role: str
    ) -> str:
        """The group's or room's call under way, started now if there is none."""
        key = f"{kind.value}:{key_id}"
        for _ in range(3):
            async with self._db.engine.connect() as conn:
                found = await store.active_call_id(conn, key)
            if found is not None:
                return found
            now = self._clock()
            call = Call(
                id=str(uuid.uuid4()),
                kind=kind,
                state=CallState.CONNECTED,
                created_by=creator,
                created_at=now,
                subject="",
                video=True,
                group_id=key_id if kind is CallKind.GROUP else None,
                room_id=key_id if kind is CallKind.ROOM else None,
                answered_at=now,
            )
            started = acs_events.call_started(call, role)
            try:
                async with self._db.engine.begin() as conn:
                    await store.insert_call(conn, call)
                    await self._outbox.emit(conn, [started])
            except IntegrityError:
                continue  # another request started it a moment ago
            log.info("call %s started for %s %s", call.id, kind.value, key_id)
            out = self._fresh_outcome()
            out.webhook = [started]
            await self._follow_up(call, out)
            return call.id
        raise conflict(f"could not join the call of {kind.value} {key_id}; try again")

    def _ice(self, principal: Principal) -> list[dict[str, Any]]:
        if self.traversal is None:
            return []
        try:
            configuration = self.traversal.issue(principal.user, RouteType.ANY, None)
        except AcsError:
            return []
        return [
            {
                "urls": list(server.urls),
                "username": server.username,
                "credential": server.credential,
            }
            for server in configuration.ice_servers
        ]
