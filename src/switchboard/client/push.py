"""Push registrations from Python: a device app's backend or a test registers devices.

The registrations API of docs/push.md, with the user's access token as a Bearer
token, api-version 2026-12-01.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from switchboard.client.http import UserClient, error_body

API_VERSION = "2026-12-01"
BASE = "/switchboard/v1/push"


class PushError(Exception):
    """A push call answered with an ACS error body."""

    def __init__(self, status: int, code: str, message: str, target: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.target = target


@dataclass(frozen=True, slots=True)
class PushRegistration:
    """One registered device, as the API shows it."""

    id: str
    platform: str
    app_id: str
    device_token: str | None
    """The device token or channel URI; None for Web Push."""
    endpoint: str | None
    """The Web Push subscription's endpoint; None for other platforms."""
    created_on: str
    updated_on: str
    expires_on: str

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> PushRegistration:
        """Read the API's JSON form."""
        subscription = body.get("subscription") or {}
        return cls(
            id=str(body["id"]),
            platform=str(body["platform"]),
            app_id=str(body["appId"]),
            device_token=body.get("deviceToken"),
            endpoint=subscription.get("endpoint"),
            created_on=str(body["createdOn"]),
            updated_on=str(body["updatedOn"]),
            expires_on=str(body["expiresOn"]),
        )


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.isoformat().replace("+00:00", "Z")


class PushClient(UserClient):
    """One user's push registrations."""

    async def _call(self, method: str, path: str, body: Any = None) -> Any:
        answer = await self._http.request(
            method, BASE + path, json=body, params={"api-version": API_VERSION}
        )
        if answer.status_code >= 400:
            error = error_body(answer)
            raise PushError(
                answer.status_code,
                str(error.get("code", "")),
                str(error.get("message", answer.text)),
                str(error.get("target", "")),
            )
        return answer.json() if answer.content else None

    async def register_device(
        self,
        platform: str,
        device_token: str,
        app_id: str,
        *,
        expires_on: datetime | None = None,
    ) -> PushRegistration:
        """Register (or refresh) an APNs, APNs VoIP, FCM or WNS device."""
        body: dict[str, Any] = {
            "platform": platform,
            "appId": app_id,
            "deviceToken": device_token,
        }
        if expires_on is not None:
            body["expiresOn"] = _iso(expires_on)
        return PushRegistration.from_json(
            await self._call("POST", "/registrations", body)
        )

    async def register_web_push(
        self,
        endpoint: str,
        p256dh: str,
        auth: str,
        app_id: str = "web",
        *,
        expires_on: datetime | None = None,
    ) -> PushRegistration:
        """Register (or refresh) a Web Push subscription."""
        body: dict[str, Any] = {
            "platform": "webpush",
            "appId": app_id,
            "subscription": {
                "endpoint": endpoint,
                "keys": {"p256dh": p256dh, "auth": auth},
            },
        }
        if expires_on is not None:
            body["expiresOn"] = _iso(expires_on)
        return PushRegistration.from_json(
            await self._call("POST", "/registrations", body)
        )

    async def list_registrations(self) -> list[PushRegistration]:
        """The user's registrations."""
        answer = await self._call("GET", "/registrations")
        return [PushRegistration.from_json(item) for item in answer["value"]]

    async def get_registration(self, registration_id: str) -> PushRegistration:
        """One registration."""
        answer = await self._call("GET", f"/registrations/{quote(registration_id)}")
        return PushRegistration.from_json(answer)

    async def refresh_registration(
        self,
        registration_id: str,
        *,
        expires_on: datetime | None = None,
        device_token: str | None = None,
    ) -> PushRegistration:
        """Extend a registration and, when given, replace its device token."""
        body: dict[str, Any] = {}
        if expires_on is not None:
            body["expiresOn"] = _iso(expires_on)
        if device_token is not None:
            body["deviceToken"] = device_token
        answer = await self._call(
            "PATCH", f"/registrations/{quote(registration_id)}", body
        )
        return PushRegistration.from_json(answer)

    async def remove_registration(self, registration_id: str) -> None:
        """Remove a registration."""
        await self._call("DELETE", f"/registrations/{quote(registration_id)}")

    async def vapid_public_key(self) -> str:
        """The server's VAPID public key, base64url (the applicationServerKey)."""
        answer = await self._call("GET", "/webpush/vapidPublicKey")
        return str(answer["publicKey"])
