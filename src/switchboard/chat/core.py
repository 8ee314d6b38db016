"""What every chat operation shares: storage, rate budgets, membership, notifying.

Every operation takes the verified caller, charges the rate budgets, checks the
caller's scope and membership, commits its change, and only then tells the
thread's participants through the notifier.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from switchboard.auth.tokens import Principal, UserStates
from switchboard.chat import events, store
from switchboard.chat.access import (
    not_member,
    thread_budget,
    thread_gone,
    user_budget,
)
from switchboard.chat.content import MessageType
from switchboard.chat.records import (
    Member,
    Message,
    Participant,
    Rejected,
)
from switchboard.config import ChatSettings
from switchboard.core.clock import Clock
from switchboard.core.errors import ErrorCode, bad_request
from switchboard.core.ids import parse_user_id
from switchboard.core.ratelimit import RateLimiter
from switchboard.events.model import Event
from switchboard.events.outbox import EventOutbox
from switchboard.realtime.notifier import Notifier
from switchboard.storage.engine import Database

log = logging.getLogger(__name__)


class ChatCore:
    """What every chat operation needs: storage, limits, membership, notifying."""

    def __init__(
        self,
        db: Database,
        users: UserStates,
        notifier: Notifier,
        outbox: EventOutbox,
        limiter: RateLimiter,
        settings: ChatSettings,
        resource_id: str,
        clock: Clock,
    ) -> None:
        self._db = db
        self._users = users
        self._notifier = notifier
        self._outbox = outbox
        self._limiter = limiter
        self.settings = settings
        self._resource_id = resource_id
        self._clock = clock

    async def _charge(self, caller: Principal, thread_id: str | None = None) -> None:
        budgets = [user_budget(self.settings, caller.user.raw)]
        what = "this user"
        if thread_id is not None:
            budgets.append(thread_budget(self.settings, thread_id))
            what = "this user or chat thread"
        await self._limiter.enforce(budgets, what)

    async def _member(
        self, conn: AsyncConnection, thread_id: str, caller: Principal
    ) -> Member:
        """The caller's membership of a live thread: 404 or 403 otherwise."""
        thread = await store.get_thread(conn, thread_id)
        if thread is None or thread.deleted_at is not None:
            raise thread_gone(thread_id)
        member = await store.get_member(conn, thread_id, caller.user.raw)
        if member is None:
            raise not_member()
        return member

    async def _lock(
        self, conn: AsyncConnection, thread_id: str, caller: Principal
    ) -> Member:
        """Start a write on a thread (its row first) and check the caller's membership.

        Writing first makes SQLite take its write lock before any read, so a
        concurrent writer makes this one wait instead of failing its snapshot.
        """
        if await store.next_version(conn, thread_id, self._clock()) is None:
            raise thread_gone(thread_id)
        member = await store.get_member(conn, thread_id, caller.user.raw)
        if member is None:
            raise not_member()
        return member

    async def _emit(self, conn: AsyncConnection, webhook_events: list[Event]) -> None:
        await self._outbox.emit(conn, webhook_events)

    async def _notify(
        self, recipients: Iterable[str], event: events.ChatEvent, data: dict[str, Any]
    ) -> None:
        # The change is committed; a failed delivery must not fail the request.
        try:
            await self._notifier.notify(list(recipients), event.value, data)
        except Exception:
            log.exception("could not deliver %s", event.value)

    def _page_size(self, requested: int | None) -> int:
        if requested is None:
            return min(100, self.settings.max_page_size)
        if requested < 1:
            raise bad_request("maxPageSize must be at least 1", target="maxPageSize")
        return min(requested, self.settings.max_page_size)

    async def _system_message(
        self,
        conn: AsyncConnection,
        thread_id: str,
        kind: MessageType,
        initiator: str,
        *,
        topic: str | None = None,
        participants: tuple[Participant, ...] = (),
    ) -> Message:
        now = self._clock()
        ids = await store.next_message_ids(conn, thread_id, now)
        if ids is None:
            raise thread_gone(thread_id)
        sequence, stamp = ids
        message = Message(
            thread_id=thread_id,
            id=stamp,
            sequence_id=sequence,
            version=stamp,
            type=kind,
            created_at=stamp / 1000,
            topic=topic,
            participants=participants,
            initiator=initiator,
        )
        await store.insert_message(conn, message)
        return message

    async def _screen(
        self, named: list[Participant]
    ) -> tuple[dict[str, Participant], list[Rejected]]:
        """Split named participants into users who can join and those who cannot."""
        if len(named) > self.settings.max_participants_per_request:
            raise bad_request(
                f"a request may name at most "
                f"{self.settings.max_participants_per_request} participants, not "
                f"{len(named)}",
                code=ErrorCode.INVALID_REQUEST_BODY,
                target="participants",
            )
        valid: dict[str, Participant] = {}
        rejected: dict[str, Rejected] = {}
        for participant in named:
            raw = participant.user_id
            problem = await self._problem_with(raw)
            if problem is None:
                valid[raw] = participant
            else:
                rejected[raw] = Rejected(raw, *problem)
        return valid, list(rejected.values())

    async def _problem_with(self, raw_id: str) -> tuple[str, str] | None:
        # Phone numbers and Teams identities cannot be chat participants yet.
        user = parse_user_id(raw_id)
        if user is None:
            return (
                ErrorCode.NOT_SUPPORTED,
                "only communication users of this resource can join a chat thread",
            )
        if user.resource_id != self._resource_id:
            return (ErrorCode.FORBIDDEN, "the user belongs to another resource")
        state = await self._users.user_state(user)
        if state is None or state.deleted:
            return (ErrorCode.NOT_FOUND, "the user does not exist")
        return None

    def _check_capacity(self, current: int, adding: int) -> None:
        limit = self.settings.max_participants_per_thread
        if current + adding > limit:
            raise bad_request(
                f"a chat thread has at most {limit} participants; it has {current} "
                f"and the request adds {adding}",
                target="participants",
            )
