"""What every call operation shares: the locked change, ending, leaving, notifying.

An operation locks the call, changes its records in one transaction with the
Event Grid events that describe the change, and only after the commit tells
the participants over the realtime channel and tidies up local state (timers,
media handles, the media room).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection

from switchboard.calls import acs_events, store
from switchboard.calls.model import (
    Call,
    CallKind,
    CallState,
    EndReason,
    InviteEnd,
    LeaveReason,
    Participant,
    ParticipantState,
    StreamInfo,
)
from switchboard.calls.wire import participant_json, stream_json
from switchboard.config import CallSettings
from switchboard.core.clock import Clock
from switchboard.core.errors import not_found
from switchboard.events.model import Event
from switchboard.events.outbox import EventOutbox
from switchboard.media.engine import MediaEngine, Placement
from switchboard.realtime.notifier import Notifier
from switchboard.storage.engine import Database

log = logging.getLogger(__name__)

T = TypeVar("T")


class CallEvent:
    """The realtime event names of docs/calls.md."""

    INCOMING_CALL = "incomingCall"
    INVITE_ENDED = "callInviteEnded"
    STATE_CHANGED = "callStateChanged"
    PARTICIPANT_JOINED = "callParticipantJoined"
    PARTICIPANT_LEFT = "callParticipantLeft"
    PARTICIPANT_UPDATED = "callParticipantUpdated"
    STREAM_ADDED = "callStreamAdded"
    STREAM_REMOVED = "callStreamRemoved"
    ENDED = "callEnded"

    ALL = (
        INCOMING_CALL,
        INVITE_ENDED,
        STATE_CHANGED,
        PARTICIPANT_JOINED,
        PARTICIPANT_LEFT,
        PARTICIPANT_UPDATED,
        STREAM_ADDED,
        STREAM_REMOVED,
        ENDED,
    )


@dataclass
class Outcome:
    """What a change leads to once committed."""

    notes: list[tuple[list[str], str, dict[str, Any]]] = field(default_factory=list)
    webhook: list[Event] = field(default_factory=list)
    dirty: dict[str, Participant] = field(default_factory=dict)
    ended: bool = False
    close_room: Placement | None = None
    gone_streams: list[StreamInfo] = field(default_factory=list)
    left: list[str] = field(default_factory=list)

    def note(self, recipients: Iterable[str], event: str, data: dict[str, Any]) -> None:
        """Tell `recipients` about something after the commit."""
        users = list(dict.fromkeys(recipients))
        if users:
            self.notes.append((users, event, data))


@dataclass
class Locked:
    """A call and its participants, locked for one change."""

    conn: AsyncConnection
    call: Call
    people: dict[str, Participant]
    out: Outcome
    now: float

    def active(self) -> list[str]:
        """Users ringing or connected."""
        return [u for u, p in self.people.items() if p.active]

    def connected(self) -> list[str]:
        """Users connected."""
        return [
            u for u, p in self.people.items() if p.state is ParticipantState.CONNECTED
        ]

    def ringing(self) -> list[str]:
        """Callees still ringing."""
        return [
            u for u, p in self.people.items() if p.state is ParticipantState.RINGING
        ]

    def touch(self, p: Participant) -> None:
        """Write this participant back with the call."""
        self.out.dirty[p.user] = p

    @property
    def starter_role(self) -> str:
        """The role of whoever started the call (for Event Grid's `startedBy`)."""
        starter = self.people.get(self.call.created_by)
        return starter.role if starter is not None else "Presenter"


def placement_of(call: Call) -> Placement | None:
    """Where the call's media room is, if it has one."""
    if call.media_server is None or call.media_room is None:
        return None
    return Placement(call.media_server, call.media_room)


@dataclass(frozen=True, slots=True)
class CoreParts:
    """The collaborators every call operation uses."""

    db: Database
    notifier: Notifier
    outbox: EventOutbox
    media: MediaEngine | None
    settings: CallSettings
    clock: Clock


class CallCore:
    """Storage, notifier, outbox and the shared moves of every call operation."""

    def __init__(self, core: CoreParts) -> None:
        self._db = core.db
        self._notifier = core.notifier
        self._outbox = core.outbox
        self.media = core.media
        self.settings = core.settings
        self._clock = core.clock
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopped = False

    # The locked change

    async def _change(
        self, call_id: str, change: Callable[[Locked], Awaitable[T]]
    ) -> T:
        """Run `change` on the locked call in one transaction, then follow up."""
        async with self._db.engine.begin() as conn:
            call = await store.lock_call(conn, call_id)
            if call is None:
                raise not_found(f"there is no call {call_id}", target="callId")
            people = {p.user: p for p in await store.participants(conn, call)}
            locked = Locked(conn, call, people, Outcome(), self._clock())
            result = await change(locked)
            await store.save_call(conn, call)
            for participant in locked.out.dirty.values():
                await store.save_participant(conn, participant)
            await self._outbox.emit(conn, locked.out.webhook)
        await self._follow_up(call, locked.out)
        return result

    async def _follow_up(self, call: Call, out: Outcome) -> None:
        """After a commit: wake the dispatchers, notify, tidy up local state."""
        if out.webhook:
            await self._outbox.committed()
        for recipients, event, data in out.notes:
            # The change is committed; a failed delivery must not fail the request.
            try:
                await self._notifier.notify(recipients, event, data)
            except Exception:
                log.exception("call %s: could not deliver %s", call.id, event)
        await self._tidy(call, out)

    async def _tidy(self, call: Call, out: Outcome) -> None:
        """Local state after a change; the media part lives in MediaOps."""

    def _fresh_outcome(self) -> Outcome:
        return Outcome()

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        if self._stopped:
            work.close()
            return

        async def run() -> None:
            try:
                await work
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("calls: background work failed")

        task = asyncio.create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def stop(self) -> None:
        """Cancel timers and background work; nothing new starts after this."""
        self._stopped = True
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # Shared moves

    def _joined(self, lk: Locked, p: Participant) -> None:
        """Tell everyone in the call that `p` is in it now."""
        data = {"callId": lk.call.id, "participant": participant_json(p)}
        lk.out.note(lk.active(), CallEvent.PARTICIPANT_JOINED, data)
        lk.out.webhook.append(
            acs_events.participant_added(lk.call, p, lk.starter_role, lk.now)
        )

    async def _remove_streams(self, lk: Locked, user: str | None) -> None:
        """Forget a user's (or everyone's) publications and say they are gone."""
        gone = await store.remove_streams(lk.conn, lk.call.id, user=user)
        lk.out.gone_streams.extend(gone)
        for stream in gone:
            data = {"callId": lk.call.id, **stream_json(stream)}
            lk.out.note(lk.active(), CallEvent.STREAM_REMOVED, data)

    async def _leave(self, lk: Locked, p: Participant, reason: LeaveReason) -> None:
        """A connected participant leaves; the call ends when it is left empty."""
        recipients = lk.active()
        p.move(ParticipantState.LEFT, lk.now, reason.value)
        lk.touch(p)
        lk.out.left.append(p.user)
        await self._remove_streams(lk, p.user)
        data = {
            "callId": lk.call.id,
            "participant": participant_json(p),
            "reason": reason.value,
        }
        lk.out.note(recipients, CallEvent.PARTICIPANT_LEFT, data)
        lk.out.webhook.append(
            acs_events.participant_removed(lk.call, p, lk.starter_role, lk.now)
        )
        await self._end_if_over(lk, also=[p.user])

    async def _end_if_over(self, lk: Locked, also: Iterable[str] = ()) -> None:
        """End a call nobody (or, in a direct call, only one person) is left in."""
        if lk.call.state is CallState.ENDED:
            return
        connected, ringing = lk.connected(), lk.ringing()
        if lk.call.kind is CallKind.DIRECT:
            if ringing and connected:
                return
            if len(connected) >= 2:
                return
            if lk.call.state is CallState.RINGING:
                reason = EndReason.DECLINED if not ringing else EndReason.CANCELED
            else:
                reason = EndReason.COMPLETED
            await self._end(lk, reason, also)
        elif not connected:
            await self._end(lk, EndReason.COMPLETED, also)

    async def _end(
        self, lk: Locked, reason: EndReason, also: Iterable[str] = ()
    ) -> None:
        """End the call for everyone still in it (and `also` those just gone)."""
        call = lk.call
        recipients = [*lk.active(), *also]
        invite_end = {
            EndReason.CANCELED: InviteEnd.CANCELED,
            EndReason.NO_ANSWER: InviteEnd.NO_ANSWER,
        }.get(reason, InviteEnd.CANCELED)
        await self._remove_streams(lk, None)
        call.move(CallState.ENDED, lk.now, reason)
        for p in lk.people.values():
            if p.state is ParticipantState.RINGING:
                p.move(ParticipantState.LEFT, lk.now, invite_end.value)
                lk.touch(p)
                data = {"callId": call.id, "reason": invite_end.value}
                lk.out.note([p.user], CallEvent.INVITE_ENDED, data)
            elif p.state is ParticipantState.CONNECTED:
                p.move(ParticipantState.LEFT, lk.now, LeaveReason.CALL_ENDED.value)
                lk.touch(p)
                lk.out.webhook.append(
                    acs_events.participant_removed(call, p, lk.starter_role, lk.now)
                )
        state = {"callId": call.id, "state": call.state.value, "reason": reason.value}
        lk.out.note(recipients, CallEvent.STATE_CHANGED, state)
        ended = {
            "callId": call.id,
            "reason": reason.value,
            "durationS": round(call.duration_s(), 3),
        }
        lk.out.note(recipients, CallEvent.ENDED, ended)
        lk.out.webhook.append(acs_events.call_ended(call, lk.starter_role))
        lk.out.ended = True
        lk.out.close_room = placement_of(call)
        log.info("call %s ended: %s", call.id, reason.value)
