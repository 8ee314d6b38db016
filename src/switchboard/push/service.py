"""Push registrations and triggers: who gets which push, written to the outbox.

Registration requests are validated hard here (each platform's token shape, the
Web Push keys, expiry bounds, a per-user limit). Triggers turn an
`incomingCall` event into a push to every callee's devices and a
`chatMessageReceived` event into a push to each recipient with no live
realtime connection; the sender delivers them from the outbox.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy.ext.asyncio import AsyncConnection

from switchboard.config import PushSettings
from switchboard.core.clock import Clock
from switchboard.core.errors import AcsError, ErrorCode, bad_request, not_found
from switchboard.events.webhook import (
    TargetRefused,
    WebhookClient,
    check_url,
    target_error,
)
from switchboard.push import store
from switchboard.push.payloads import call_push, message_push, message_sender
from switchboard.push.presence import Presence
from switchboard.push.providers.wns import channel_allowed
from switchboard.push.records import Platform, Push, PushKind, Registration
from switchboard.push.vapid import VapidKey, b64url_decode
from switchboard.storage.engine import Database

log = logging.getLogger(__name__)

CALL_PLATFORMS = frozenset(
    {Platform.APNS_VOIP, Platform.FCM, Platform.WNS, Platform.WEBPUSH}
)
"""Where an incoming call rings: never plain APNs alerts (a call needs VoIP)."""

MESSAGE_PLATFORMS = frozenset(
    {Platform.APNS, Platform.FCM, Platform.WNS, Platform.WEBPUSH}
)
"""Where a chat message shows: never APNs VoIP, which Apple keeps for calls."""

_APNS_TOKEN = re.compile(r"[0-9a-fA-F]{64,200}")
_FCM_TOKEN = re.compile(r"[A-Za-z0-9_:.\-]{16,4096}")
_APP_ID = re.compile(r"[^\x00-\x1f\x7f]{1,256}")
MAX_URL = 2048
STAGED_GRACE_S = 30.0
"""How long the pushes a chat message staged wait for the node that sent the
message to queue them, before any node's sender does it instead."""
STAGED_BATCH = 100


@dataclass(frozen=True, slots=True)
class Device:
    """A validated device: its token (or endpoint) and Web Push keys."""

    token: str
    p256dh: str | None = None
    auth: str | None = None


def _invalid(message: str, target: str) -> AcsError:
    return bad_request(message, code=ErrorCode.INVALID_REQUEST_BODY, target=target)


def _check_p256dh(value: str) -> None:
    try:
        point = b64url_decode(value)
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    except ValueError:
        raise _invalid(
            "subscription.keys.p256dh must be a P-256 public key, uncompressed "
            "(65 bytes), base64url",
            "subscription.keys.p256dh",
        ) from None
    if len(point) != 65:
        raise _invalid(
            "subscription.keys.p256dh must be the uncompressed point (65 bytes)",
            "subscription.keys.p256dh",
        )


def _check_auth(value: str) -> None:
    try:
        secret = b64url_decode(value)
    except ValueError:
        secret = b""
    if len(secret) != 16:
        raise _invalid(
            "subscription.keys.auth must be 16 bytes, base64url",
            "subscription.keys.auth",
        )


class PushService:
    """Registrations of one resource's users and the pushes events cause."""

    def __init__(
        self,
        db: Database,
        settings: PushSettings,
        platforms: frozenset[Platform],
        vapid: VapidKey,
        presence: Presence,
        endpoints: WebhookClient,
        wake: Callable[[], Awaitable[None]],
        clock: Clock,
    ) -> None:
        self._db = db
        self._settings = settings
        self.platforms = platforms
        """The platforms this node has credentials for."""
        self.vapid = vapid
        self._presence = presence
        self._endpoints = endpoints
        self._wake = wake
        self._clock = clock
        self.endpoint = settings.public_endpoint
        """Put in pushes for apps to connect back to; the node sets it at start."""

    # Registrations

    async def validate_device(
        self,
        platform: Platform,
        token: str | None,
        subscription: Mapping[str, Any] | None,
    ) -> Device:
        """The device a request names, checked for its platform; 400 otherwise."""
        if platform not in self.platforms:
            raise bad_request(
                f"platform {platform.value!r} is not configured on this server",
                code=ErrorCode.NOT_SUPPORTED,
                target="platform",
            )
        if platform is Platform.WEBPUSH:
            if subscription is None or token is not None:
                raise _invalid(
                    "a webpush registration takes subscription, not deviceToken",
                    "subscription",
                )
            return await self._web_push_device(subscription)
        if token is None or subscription is not None:
            raise _invalid(
                f"a {platform.value} registration takes deviceToken, not subscription",
                "deviceToken",
            )
        if platform in (Platform.APNS, Platform.APNS_VOIP):
            if not _APNS_TOKEN.fullmatch(token) or len(token) % 2:
                raise _invalid(
                    "an APNs device token is 64 to 200 hexadecimal digits",
                    "deviceToken",
                )
            return Device(token.lower())
        if platform is Platform.FCM:
            if not _FCM_TOKEN.fullmatch(token):
                raise _invalid(
                    "an FCM registration token is 16 to 4096 characters of "
                    "letters, digits and _:.-",
                    "deviceToken",
                )
            return Device(token)
        if len(token) > MAX_URL or not channel_allowed(
            token, self._settings.wns_channel_hosts
        ):
            raise _invalid(
                "a WNS deviceToken is the channel URI: https on "
                + ", ".join(self._settings.wns_channel_hosts),
                "deviceToken",
            )
        return Device(token)

    async def _web_push_device(self, subscription: Mapping[str, Any]) -> Device:
        endpoint = subscription.get("endpoint")
        keys = subscription.get("keys")
        if not isinstance(endpoint, str) or not isinstance(keys, Mapping):
            raise _invalid(
                "subscription needs endpoint and keys {p256dh, auth}", "subscription"
            )
        p256dh, auth = keys.get("p256dh"), keys.get("auth")
        if not isinstance(p256dh, str) or not isinstance(auth, str):
            raise _invalid(
                "subscription.keys needs p256dh and auth", "subscription.keys"
            )
        if len(endpoint) > MAX_URL or not endpoint.startswith("https://"):
            raise _invalid(
                f"subscription.endpoint must be an https URL of at most {MAX_URL} "
                "characters",
                "subscription.endpoint",
            )
        try:
            check_url(endpoint)
            await self._endpoints.pin(endpoint)
        except TargetRefused as exc:
            raise target_error(exc, "subscription.endpoint") from None
        _check_p256dh(p256dh)
        _check_auth(auth)
        return Device(endpoint, p256dh, auth)

    def expiry(self, expires_at: float | None) -> float:
        """When a registration made now ends: as asked (bounded) or the default."""
        now = self._clock()
        if expires_at is None:
            return now + self._settings.registration_ttl_s
        if expires_at <= now:
            raise _invalid("expiresOn must be in the future", "expiresOn")
        latest = now + self._settings.registration_max_ttl_s
        if expires_at > latest:
            days = self._settings.registration_max_ttl_s / 86400
            raise _invalid(
                f"expiresOn may be at most {days:g} days from now", "expiresOn"
            )
        return expires_at

    async def register(
        self,
        user: str,
        platform: Platform,
        app_id: str,
        device: Device,
        expires_at: float | None,
    ) -> tuple[Registration, bool]:
        """Register a device (True) or refresh the user's registration of it."""
        if not _APP_ID.fullmatch(app_id):
            raise _invalid("appId is 1 to 256 printable characters", "appId")
        ends = self.expiry(expires_at)
        now = self._clock()
        async with self._db.engine.begin() as conn:
            existing = await store.by_device(conn, platform, device.token)
            if existing is not None and existing.user_id == user:
                refreshed = replace(
                    existing,
                    app_id=app_id,
                    p256dh=device.p256dh,
                    auth=device.auth,
                    updated_at=now,
                    expires_at=ends,
                )
                await store.replace_registration(conn, refreshed)
                log.info("push registration %s refreshed", existing.id)
                return refreshed, False
            if existing is not None:
                # The device now belongs to another user (signed out and in):
                # the old owner's registration and queued pushes go.
                await store.delete_registrations(conn, [existing.id])
                log.info("push registration %s moved to another user", existing.id)
            if await store.count_registrations(conn, user) >= (
                self._settings.max_registrations_per_user
            ):
                raise AcsError(
                    409,
                    ErrorCode.CONFLICT,
                    "the user has registered the most devices allowed "
                    f"({self._settings.max_registrations_per_user}); remove one first",
                )
            made = Registration(
                id=str(uuid.uuid4()),
                user_id=user,
                platform=platform,
                app_id=app_id,
                token=device.token,
                p256dh=device.p256dh,
                auth=device.auth,
                created_at=now,
                updated_at=now,
                expires_at=ends,
            )
            await store.insert_registration(conn, made)
        log.info("push registration %s: %s for %s", made.id, platform.value, user)
        return made, True

    async def registrations(self, user: str) -> list[Registration]:
        """The user's registrations."""
        async with self._db.engine.connect() as conn:
            return await store.user_registrations(conn, user)

    async def get(self, user: str, registration_id: str) -> Registration:
        """One of the user's registrations; 404 for anyone else's."""
        async with self._db.engine.connect() as conn:
            found = await store.get_registration(conn, registration_id)
        if found is None or found.user_id != user:
            raise not_found(
                f"no push registration {registration_id!r}", target="registrationId"
            )
        return found

    async def refresh(
        self,
        user: str,
        registration_id: str,
        device: Device | None,
        expires_at: float | None,
    ) -> Registration:
        """Extend a registration and, when given, replace its device token."""
        current = await self.get(user, registration_id)
        ends = self.expiry(expires_at)
        now = self._clock()
        updated = replace(current, updated_at=now, expires_at=ends)
        async with self._db.engine.begin() as conn:
            if device is not None:
                other = await store.by_device(conn, current.platform, device.token)
                if other is not None and other.id != current.id:
                    await store.delete_registrations(conn, [other.id])
                updated = replace(
                    updated, token=device.token, p256dh=device.p256dh, auth=device.auth
                )
            await store.replace_registration(conn, updated)
        log.info("push registration %s refreshed", registration_id)
        return updated

    async def remove(self, user: str, registration_id: str) -> None:
        """Delete one of the user's registrations."""
        await self.get(user, registration_id)
        async with self._db.engine.begin() as conn:
            await store.delete_registrations(conn, [registration_id])
        log.info("push registration %s removed by its user", registration_id)

    async def forget_deleted_users(self) -> int:
        """Delete the registrations of deleted users; how many went."""
        async with self._db.engine.begin() as conn:
            ids = await store.registrations_of_deleted_users(conn)
            removed = await store.delete_registrations(conn, ids)
        if removed:
            log.info("%d push registrations of deleted users removed", removed)
        return removed

    # Triggers

    async def stage(
        self,
        conn: AsyncConnection,
        recipients: Sequence[str],
        event: str,
        data: Mapping[str, Any],
    ) -> None:
        """In a chat message's transaction: note that it will cause pushes.

        Only when a recipient has a device for message pushes. `on_event` queues
        them right after the commit and deletes the note; if this node stops
        before that, any node's sender queues them after STAGED_GRACE_S.
        """
        if event != PushKind.MESSAGE.value:
            return
        others = _message_recipients(recipients, data)
        now = self._clock()
        devices = await store.live_registrations(conn, others, now)
        if any(device.platform in MESSAGE_PLATFORMS for device in devices):
            await store.stage(
                conn, _source(data), event, others, data, now + STAGED_GRACE_S
            )

    async def on_event(
        self, recipients: list[str], event: str, data: Mapping[str, Any]
    ) -> None:
        """Queue the pushes an event causes, if any."""
        if event == PushKind.CALL.value:
            targets = await self._devices(recipients, CALL_PLATFORMS)
            push = call_push(data, self.endpoint, self._settings.call_ttl_s)
            await self._enqueue(targets, push)
        elif event == PushKind.MESSAGE.value:
            await self._message_pushes(recipients, data, late=False)

    async def release_staged(self) -> int:
        """Queue the pushes of staged messages whose node did not; how many."""
        async with self._db.engine.connect() as conn:
            due = await store.due_staged(conn, self._clock(), STAGED_BATCH)
        released = 0
        for staged in due:
            try:
                taken = await self._message_pushes(
                    staged.recipients, staged.data, late=True
                )
            except Exception:
                log.exception("could not queue the staged pushes of %s", staged.source)
                # Tried again later, behind the notes that are due now.
                async with self._db.engine.begin() as conn:
                    await store.postpone(
                        conn, staged.source, self._clock() + STAGED_GRACE_S
                    )
                continue
            released += taken
        if released:
            log.info(
                "queued the pushes of %d messages whose node stopped before it could",
                released,
            )
        return released

    async def _message_pushes(
        self, recipients: Sequence[str], data: Mapping[str, Any], *, late: bool
    ) -> bool:
        """Queue a chat message's pushes to its recipients that are not connected.

        Right after the message's commit (`late` False) the pushes are queued
        and the staged note, if any, is taken with them. A sender releasing a
        note (`late`) queues them only if it takes the note, so senders on
        several nodes never queue them twice; it takes the note even when no
        device is left. Returns whether this call took a note.
        """
        others = _message_recipients(recipients, data)
        targets = await self._devices(others, MESSAGE_PLATFORMS)
        if not targets and not late:
            return False
        # Only users with devices are looked up; the connected ones need none.
        online = await self._presence.online({r.user_id for r in targets})
        push = message_push(
            data,
            self._settings.preview,
            self.endpoint,
            self._settings.message_ttl_s,
        )
        offline = [r for r in targets if r.user_id not in online]
        return await self._enqueue(
            offline, push, staged=_source(data), only_if_staged=late
        )

    async def _devices(
        self, users: list[str], platforms: frozenset[Platform]
    ) -> list[Registration]:
        if not users:
            return []
        async with self._db.engine.connect() as conn:
            found = await store.live_registrations(conn, users, self._clock())
        return [r for r in found if r.platform in platforms]

    async def _enqueue(
        self,
        targets: list[Registration],
        push: Push,
        *,
        staged: str | None = None,
        only_if_staged: bool = False,
    ) -> bool:
        """Queue `push` for each device; with `staged`, take that note in the
        same transaction. Returns whether the note was there to take."""
        if not targets and staged is None:
            return False
        now = self._clock()
        async with self._db.engine.begin() as conn:
            taken = staged is not None and await store.unstage(conn, staged)
            if only_if_staged and not taken:
                log.debug("pushes of %s were queued by another node", staged)
                return False
            ids = await store.enqueue(
                conn, targets, push, now, now + max(push.ttl_s, 1)
            )
        if not ids:
            return taken
        log.debug("%s: %d pushes queued (%s)", push.kind.value, len(ids), ids)
        try:
            await self._wake()
        except Exception:
            log.exception("could not wake the push senders")
        return taken


def _message_recipients(
    recipients: Sequence[str], data: Mapping[str, Any]
) -> list[str]:
    """Who a message may push to: every recipient but its sender."""
    sender = message_sender(data)
    return [user for user in recipients if user != sender]


def _source(data: Mapping[str, Any]) -> str:
    """The staged-push key of a `chatMessageReceived` event: thread and message."""
    return f"{data['threadId']}/{data['id']}"
