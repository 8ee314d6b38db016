"""Chat messages, typing notifications and read receipts: the logic behind them."""

from __future__ import annotations

import logging
from dataclasses import replace

from sqlalchemy.ext.asyncio import AsyncConnection

from switchboard.auth.tokens import Principal
from switchboard.chat import acs_events, content, events, store
from switchboard.chat.access import message_gone
from switchboard.chat.core import ChatCore
from switchboard.chat.paging import (
    Listing,
    Page,
    first_offset,
    page_of,
    parse_token,
)
from switchboard.chat.records import Member, Message, ReadReceipt
from switchboard.core.errors import forbidden

log = logging.getLogger(__name__)


def _message_id(value: str) -> int | None:
    # Ids are epoch milliseconds; anything else names no message.
    if not value.isascii() or not value.isdigit() or len(value) > 18:
        return None
    return int(value)


class MessageOps(ChatCore):
    """Sending, reading, editing and deleting messages; typing; read receipts."""

    async def send_message(
        self,
        caller: Principal,
        thread_id: str,
        text: object,
        kind: str | None,
        display_name: str | None,
        metadata: object,
    ) -> Message:
        """Store a message and tell the thread; returns it with its new id."""
        await self._charge(caller, thread_id)
        body = content.check_content(text)
        message_type = content.parse_type(kind)
        meta = content.check_metadata(metadata, allow_null=False) or {}
        size = content.message_size(body, meta)
        content.check_size(size, self.settings.max_message_bytes)
        body = content.sanitise(message_type, body)

        now = self._clock()
        async with self._db.engine.begin() as conn:
            ids = await store.next_message_ids(conn, thread_id, now)
            member = await store.get_member(conn, thread_id, caller.user.raw)
            if ids is None or member is None:
                # Nothing is written: the transaction rolls back.
                await self._member(conn, thread_id, caller)
            assert ids is not None and member is not None
            sequence, stamp = ids
            # A message's time is its id, the thread's millisecond stamp: a later
            # message never has an earlier or equal createdOn.
            message = Message(
                thread_id=thread_id,
                id=stamp,
                sequence_id=sequence,
                version=stamp,
                type=message_type,
                created_at=stamp / 1000,
                sender_id=caller.user.raw,
                sender_display_name=display_name or member.display_name,
                content=body,
                metadata={k: v for k, v in meta.items() if v is not None},
            )
            await store.insert_message(conn, message)
            recipients = await store.member_ids(conn, thread_id)
            await self._emit(conn, acs_events.message_received(message, recipients))
            received = events.message_received(message)
            await self._notifier.stage(
                conn, recipients, events.ChatEvent.MESSAGE_RECEIVED.value, received
            )

        log.debug("message %d sent to %s", message.id, thread_id)
        await self._outbox.committed()
        await self._notify(recipients, events.ChatEvent.MESSAGE_RECEIVED, received)
        return message

    async def get_message(
        self, caller: Principal, thread_id: str, message_id: str
    ) -> Message:
        """One message the caller may see."""
        await self._charge(caller, thread_id)
        async with self._db.engine.connect() as conn:
            member = await self._member(conn, thread_id, caller)
            return await self._visible(conn, thread_id, message_id, member)

    async def _visible(
        self, conn: AsyncConnection, thread_id: str, message_id: str, member: Member
    ) -> Message:
        number = _message_id(message_id)
        message = None
        if number is not None:
            message = await store.get_message(conn, thread_id, number)
        if message is None or message.created_at < member.share_history_at:
            raise message_gone(message_id)
        return message

    async def list_messages(
        self,
        caller: Principal,
        thread_id: str,
        since: float | None,
        token: str | None,
        size: int | None,
    ) -> Page[Message]:
        """Messages newest first, from the caller's history time on."""
        await self._charge(caller, thread_id)
        limit = self._page_size(size)
        before = None
        if token is not None:
            (sequence,) = parse_token(token, Listing.MESSAGES, 1).key
            before = int(sequence)
        async with self._db.engine.connect() as conn:
            member = await self._member(conn, thread_id, caller)
            rows = await store.list_messages(
                conn, thread_id, member.share_history_at, since, before, limit + 1
            )
        return page_of(rows, limit, Listing.MESSAGES, lambda m: (m.sequence_id,))

    async def edit_message(
        self,
        caller: Principal,
        thread_id: str,
        message_id: str,
        text: object,
        metadata: object,
    ) -> None:
        """Change a message's content or metadata; only its sender may."""
        await self._charge(caller, thread_id)
        body = None if text is None else content.check_content(text)
        patch = content.check_metadata(metadata, allow_null=True)
        if body is None and patch is None:
            async with self._db.engine.connect() as conn:
                member = await self._member(conn, thread_id, caller)
                self._own(
                    await self._visible(conn, thread_id, message_id, member), caller
                )
            return

        now = self._clock()
        async with self._db.engine.begin() as conn:
            member = await self._lock(conn, thread_id, caller)
            message = self._own(
                await self._visible(conn, thread_id, message_id, member), caller
            )
            new_body = (message.content or "") if body is None else body
            new_meta = content.merge_metadata(message.metadata, patch or {})
            size = content.message_size(new_body, new_meta)
            content.check_size(size, self.settings.max_message_bytes)
            if body is not None:
                new_body = content.sanitise(message.type, body)
            version = await store.next_version(conn, thread_id, now)
            assert version is not None
            edited = replace(
                message,
                content=new_body,
                metadata=new_meta,
                version=version,
                edited_at=version / 1000,
            )
            await store.save_edit(conn, edited)
            recipients = await store.member_ids(conn, thread_id)
            await self._emit(conn, acs_events.message_edited(edited, recipients))

        await self._outbox.committed()
        await self._notify(
            recipients, events.ChatEvent.MESSAGE_EDITED, events.message_edited(edited)
        )

    async def delete_message(
        self, caller: Principal, thread_id: str, message_id: str
    ) -> None:
        """Replace a message with a tombstone; only its sender may."""
        await self._charge(caller, thread_id)
        now = self._clock()
        async with self._db.engine.begin() as conn:
            member = await self._lock(conn, thread_id, caller)
            message = self._own(
                await self._visible(conn, thread_id, message_id, member),
                caller,
                deleting=True,
            )
            if message.deleted_at is not None:
                return
            version = await store.next_version(conn, thread_id, now)
            assert version is not None
            deleted = replace(
                message,
                content=None,
                metadata={},
                version=version,
                deleted_at=version / 1000,
            )
            await store.save_edit(conn, deleted)
            recipients = await store.member_ids(conn, thread_id)
            await self._emit(conn, acs_events.message_deleted(deleted, recipients))

        await self._outbox.committed()
        await self._notify(
            recipients,
            events.ChatEvent.MESSAGE_DELETED,
            events.message_deleted(deleted),
        )

    @staticmethod
    def _own(message: Message, caller: Principal, deleting: bool = False) -> Message:
        if message.is_system or message.sender_id != caller.user.raw:
            raise forbidden("only the sender of a message may edit or delete it")
        if message.deleted_at is not None and not deleting:
            raise message_gone(str(message.id))
        return message

    async def send_typing(
        self, caller: Principal, thread_id: str, display_name: str | None
    ) -> None:
        """Tell the other participants the caller is typing; nothing is stored."""
        await self._charge(caller, thread_id)
        async with self._db.engine.connect() as conn:
            member = await self._member(conn, thread_id, caller)
            others = [
                u
                for u in await store.member_ids(conn, thread_id)
                if u != caller.user.raw
            ]
        name = display_name or member.display_name
        await self._notify(
            others,
            events.ChatEvent.TYPING,
            events.typing(thread_id, caller.user.raw, name, self._clock()),
        )

    async def send_read_receipt(
        self, caller: Principal, thread_id: str, message_id: object
    ) -> None:
        """Record that the caller read a message, and tell the thread."""
        await self._charge(caller, thread_id)
        if not isinstance(message_id, str) or not message_id:
            raise message_gone(str(message_id))
        now = self._clock()
        async with self._db.engine.begin() as conn:
            member = await self._lock(conn, thread_id, caller)
            message = await self._visible(conn, thread_id, message_id, member)
            receipt = ReadReceipt(caller.user.raw, message.id, now)
            changed = await store.save_receipt(conn, thread_id, receipt)
            recipients = await store.member_ids(conn, thread_id)
        if changed:
            await self._notify(
                recipients,
                events.ChatEvent.READ_RECEIPT,
                events.read_receipt(thread_id, receipt),
            )

    async def list_read_receipts(
        self,
        caller: Principal,
        thread_id: str,
        skip: int | None,
        token: str | None,
        size: int | None,
    ) -> Page[ReadReceipt]:
        """The participants' newest read receipts."""
        await self._charge(caller, thread_id)
        limit = self._page_size(size)
        after = None
        if token is not None:
            (user_id,) = parse_token(token, Listing.RECEIPTS, 1).key
            after = str(user_id)
        first = first_offset(skip, token)
        async with self._db.engine.connect() as conn:
            await self._member(conn, thread_id, caller)
            rows = await store.list_receipts(conn, thread_id, after, first, limit + 1)
        return page_of(rows, limit, Listing.RECEIPTS, lambda r: (r.user_id,))
