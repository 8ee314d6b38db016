"""Chat threads and participants: the logic behind the thread routes."""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from typing import Any

from sqlalchemy.exc import IntegrityError

from switchboard.auth.tokens import Principal
from switchboard.chat import acs_events, events, store
from switchboard.chat.access import MANAGE_PARTICIPANTS, MANAGE_THREADS, require_scope
from switchboard.chat.content import MessageType
from switchboard.chat.core import ChatCore
from switchboard.chat.paging import (
    Listing,
    Page,
    first_offset,
    page_of,
    parse_token,
)
from switchboard.chat.records import Created, Member, Participant, Rejected, Thread
from switchboard.core.errors import AcsError, ErrorCode, bad_request

log = logging.getLogger(__name__)


class ThreadOps(ChatCore):
    """Creating, listing, renaming and deleting threads; adding and removing people."""

    async def create_thread(
        self,
        caller: Principal,
        topic: object,
        named: list[Participant],
        request_id: str | None,
    ) -> Created:
        """A new thread with the caller and the valid named users as participants."""
        require_scope(caller, MANAGE_THREADS, "create chat threads")
        await self._charge(caller)
        topic = _check_topic(topic)
        creator = caller.user.raw
        valid, rejected = await self._screen(named)
        digest = _digest(topic, named)

        # A repeated request id replays the first answer.
        if request_id and len(request_id) > 128:
            raise bad_request(
                "the repeatability-request-id may be at most 128 characters",
                target="repeatability-request-id",
            )
        if request_id:
            replay = await self._replay(creator, request_id, digest)
            if replay is not None:
                return replay

        members = {creator: valid.pop(creator, Participant(creator)), **valid}
        self._check_capacity(0, len(members))
        now = self._clock()
        thread = Thread(
            id=f"19:{uuid.uuid4().hex}@thread.v2",
            topic=topic,
            created_by=creator,
            created_at=now,
            last_message_at=now,
        )
        created = Created(thread, tuple(rejected))
        try:
            async with self._db.engine.begin() as conn:
                await store.insert_thread(conn, thread)
                await self._system_message(
                    conn, thread.id, MessageType.TOPIC_UPDATED, creator, topic=topic
                )
                added = await self._system_message(
                    conn,
                    thread.id,
                    MessageType.PARTICIPANT_ADDED,
                    creator,
                    participants=tuple(members.values()),
                )
                for member in members.values():
                    await store.add_member(
                        conn, thread.id, member, added.sequence_id, now
                    )
                await self._emit(
                    conn,
                    acs_events.thread_created(
                        thread, list(members.values()), added.version
                    ),
                )
                if request_id:
                    await store.put_idempotent(
                        conn, creator, request_id, digest, _created_json(created), now
                    )
        except IntegrityError:
            # The same request id committed first through another request.
            if not request_id:
                raise
            replay = await self._replay(creator, request_id, digest)
            if replay is None:
                raise
            return replay

        log.info("chat thread %s created by %s", thread.id, creator)
        await self._outbox.committed()
        await self._notify(
            members,
            events.ChatEvent.THREAD_CREATED,
            events.thread_created(thread, list(members.values()), added.version),
        )
        return created

    async def _replay(
        self, user_id: str, request_id: str, digest: str
    ) -> Created | None:
        async with self._db.engine.connect() as conn:
            found = await store.get_idempotent(conn, user_id, request_id)
        if found is None:
            return None
        stored_digest, result = found
        if stored_digest != digest:
            raise AcsError(
                409,
                ErrorCode.CONFLICT,
                "the repeatability-request-id was already used for a different request",
                target="repeatability-request-id",
            )
        return _created_from_json(result)

    async def list_threads(
        self,
        caller: Principal,
        since: float | None,
        token: str | None,
        size: int | None,
    ) -> Page[Thread]:
        """The caller's threads, newest first."""
        await self._charge(caller)
        limit = self._page_size(size)
        after = None
        if token is not None:
            created, thread_id = parse_token(token, Listing.THREADS, 2).key
            after = (float(created), str(thread_id))
        async with self._db.engine.connect() as conn:
            rows = await store.list_threads(
                conn, caller.user.raw, since, after, limit + 1
            )
        return page_of(rows, limit, Listing.THREADS, lambda t: (t.created_at, t.id))

    async def get_thread(self, caller: Principal, thread_id: str) -> Thread:
        """A thread's properties."""
        await self._charge(caller, thread_id)
        async with self._db.engine.connect() as conn:
            await self._member(conn, thread_id, caller)
            thread = await store.get_thread(conn, thread_id)
        assert thread is not None
        return thread

    async def update_topic(
        self, caller: Principal, thread_id: str, topic: str | None
    ) -> None:
        """Rename a thread; a topicUpdated message records it."""
        require_scope(caller, MANAGE_THREADS, "update chat threads")
        await self._charge(caller, thread_id)
        if topic is None:
            async with self._db.engine.connect() as conn:
                await self._member(conn, thread_id, caller)
            return
        _check_topic(topic)

        async with self._db.engine.begin() as conn:
            await self._lock(conn, thread_id, caller)
            message = await self._system_message(
                conn,
                thread_id,
                MessageType.TOPIC_UPDATED,
                caller.user.raw,
                topic=topic,
            )
            await store.set_topic(conn, thread_id, topic)
            thread = await store.get_thread(conn, thread_id)
            recipients = await store.member_ids(conn, thread_id)
            assert thread is not None
            await self._emit(
                conn,
                acs_events.thread_updated(
                    thread,
                    caller.user.raw,
                    message.version,
                    recipients,
                    message.created_at,
                ),
            )
        await self._outbox.committed()
        await self._notify(
            recipients,
            events.ChatEvent.THREAD_UPDATED,
            events.thread_updated(
                thread, caller.user.raw, message.created_at, message.version
            ),
        )

    async def delete_thread(self, caller: Principal, thread_id: str) -> None:
        """Delete a thread for everyone."""
        require_scope(caller, MANAGE_THREADS, "delete chat threads")
        await self._charge(caller, thread_id)
        now = self._clock()
        async with self._db.engine.begin() as conn:
            await self._lock(conn, thread_id, caller)
            version = await store.next_version(conn, thread_id, now)
            thread = await store.get_thread(conn, thread_id)
            await store.mark_deleted(conn, thread_id, now)
            recipients = await store.member_ids(conn, thread_id)
            assert thread is not None
            await self._emit(
                conn,
                acs_events.thread_deleted(
                    thread, caller.user.raw, version or 0, recipients, now
                ),
            )
        log.info("chat thread %s deleted by %s", thread_id, caller.user)
        await self._outbox.committed()
        await self._notify(
            recipients,
            events.ChatEvent.THREAD_DELETED,
            events.thread_deleted(thread_id, caller.user.raw, now, version or 0),
        )

    async def list_participants(
        self,
        caller: Principal,
        thread_id: str,
        skip: int | None,
        token: str | None,
        size: int | None,
    ) -> Page[Member]:
        """The thread's participants in the order they joined."""
        await self._charge(caller, thread_id)
        limit = self._page_size(size)
        after = None
        if token is not None:
            sequence, user_id = parse_token(token, Listing.PARTICIPANTS, 2).key
            after = (int(sequence), str(user_id))
        async with self._db.engine.connect() as conn:
            await self._member(conn, thread_id, caller)
            rows = await store.list_members(
                conn, thread_id, after, first_offset(skip, token), limit + 1
            )
        return page_of(
            rows, limit, Listing.PARTICIPANTS, lambda m: (m.added_sequence, m.user_id)
        )

    async def add_participants(
        self, caller: Principal, thread_id: str, named: list[Participant]
    ) -> tuple[Rejected, ...]:
        """Add users to a thread; those who cannot join come back as rejected."""
        require_scope(caller, MANAGE_PARTICIPANTS, "add chat participants")
        await self._charge(caller, thread_id)
        valid, rejected = await self._screen(named)

        async with self._db.engine.begin() as conn:
            await self._lock(conn, thread_id, caller)
            current = set(await store.member_ids(conn, thread_id))
            new = [p for raw, p in valid.items() if raw not in current]
            self._check_capacity(len(current), len(new))
            for raw, participant in valid.items():
                if raw in current:
                    await store.update_member(conn, thread_id, participant)
            message = None
            if new:
                message = await self._system_message(
                    conn,
                    thread_id,
                    MessageType.PARTICIPANT_ADDED,
                    caller.user.raw,
                    participants=tuple(new),
                )
                for participant in new:
                    await store.add_member(
                        conn, thread_id, participant, message.sequence_id, self._clock()
                    )
                thread = await store.get_thread(conn, thread_id)
                assert thread is not None
                await self._emit(
                    conn,
                    acs_events.participants_changed(
                        thread,
                        new,
                        caller.user.raw,
                        message.version,
                        current | {p.user_id for p in new},
                        message.created_at,
                        added=True,
                    ),
                )

        if message is not None:
            await self._outbox.committed()
            log.info("%d participants added to %s", len(new), thread_id)
            await self._notify(
                current | {p.user_id for p in new},
                events.ChatEvent.PARTICIPANTS_ADDED,
                events.participants_added(message),
            )
        return tuple(rejected)

    async def remove_participant(
        self, caller: Principal, thread_id: str, raw_id: str
    ) -> None:
        """Remove a participant, who loses access at once."""
        require_scope(caller, MANAGE_PARTICIPANTS, "remove chat participants")
        await self._charge(caller, thread_id)

        async with self._db.engine.begin() as conn:
            await self._lock(conn, thread_id, caller)
            gone = await store.get_member(conn, thread_id, raw_id)
            if gone is None:
                return
            await store.remove_member(conn, thread_id, raw_id)
            message = await self._system_message(
                conn,
                thread_id,
                MessageType.PARTICIPANT_REMOVED,
                caller.user.raw,
                participants=(gone,),
            )
            recipients = await store.member_ids(conn, thread_id)
            thread = await store.get_thread(conn, thread_id)
            assert thread is not None
            await self._emit(
                conn,
                acs_events.participants_changed(
                    thread,
                    [gone],
                    caller.user.raw,
                    message.version,
                    [*recipients, raw_id],
                    message.created_at,
                    added=False,
                ),
            )

        log.info("participant removed from %s", thread_id)
        await self._outbox.committed()
        await self._notify(
            [*recipients, raw_id],
            events.ChatEvent.PARTICIPANTS_REMOVED,
            events.participants_removed(message),
        )


def _check_topic(topic: object) -> str:
    if not isinstance(topic, str) or not topic.strip():
        raise bad_request(
            "the topic must be a non-empty string",
            code=ErrorCode.INVALID_REQUEST_BODY,
            target="topic",
        )
    return topic


def _digest(topic: str, named: list[Participant]) -> str:
    canonical = json.dumps(
        [topic, [[p.user_id, p.display_name, p.share_history_at] for p in named]],
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _created_json(created: Created) -> dict[str, Any]:
    thread = created.thread
    return {
        "thread": [thread.id, thread.topic, thread.created_by, thread.created_at],
        "rejected": [[r.raw_id, r.code, r.message] for r in created.rejected],
    }


def _created_from_json(data: dict[str, Any]) -> Created:
    thread_id, topic, created_by, created_at = data["thread"]
    thread = Thread(thread_id, topic, created_by, created_at, created_at)
    return Created(thread, tuple(Rejected(*r) for r in data["rejected"]))
