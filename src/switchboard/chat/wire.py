"""The chat wire format: request bodies in, ACS JSON models out (WIRE.md §2.2).

Requests name people with a CommunicationIdentifierModel: `rawId` plus one
typed sub-object, or only one of them. Responses always carry `kind`, `rawId`
and the sub-object, as ACS does (WIRE.md §1.5).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from switchboard.chat.records import (
    Message,
    Participant,
    ReadReceipt,
    Rejected,
    Thread,
)
from switchboard.core.clock import iso8601
from switchboard.core.errors import ErrorCode, bad_request

_TEAMS_CLOUDS = {"public": "8:orgid:", "dod": "8:dod:", "gcch": "8:gcch:"}
_USER_PREFIXES = ("8:acs:", "8:spool:", "8:gcch-acs:", "8:dod-acs:")


def _invalid(message: str, target: str) -> Exception:
    return bad_request(message, code=ErrorCode.INVALID_REQUEST_BODY, target=target)


def parse_identifier(value: Any, where: str) -> str:
    """The raw id a CommunicationIdentifierModel names; 400 when it names none."""
    if not isinstance(value, dict):
        raise _invalid(f"{where} must be a CommunicationIdentifierModel", where)
    raw = value.get("rawId")
    if raw is not None and not isinstance(raw, str):
        raise _invalid(f"{where}.rawId must be a string", f"{where}.rawId")

    implied = _implied_raw_id(value, where)
    if raw and implied and value.get("communicationUser") and raw != implied:
        raise _invalid(
            f"{where}.rawId and {where}.communicationUser.id name different users",
            f"{where}.rawId",
        )
    found = raw or implied
    if not found:
        raise _invalid(f"{where} has neither a rawId nor an identifier", where)
    return found


def _implied_raw_id(value: dict[str, Any], where: str) -> str | None:
    def text(obj: Any, key: str, path: str) -> str:
        item = obj.get(key) if isinstance(obj, dict) else None
        if not isinstance(item, str) or not item:
            raise _invalid(f"{path}.{key} must be a non-empty string", f"{path}.{key}")
        return item

    if (user := value.get("communicationUser")) is not None:
        return text(user, "id", f"{where}.communicationUser")
    if (phone := value.get("phoneNumber")) is not None:
        return "4:" + text(phone, "value", f"{where}.phoneNumber")
    if (teams := value.get("microsoftTeamsUser")) is not None:
        user_id = text(teams, "userId", f"{where}.microsoftTeamsUser")
        if teams.get("isAnonymous"):
            return "8:teamsvisitor:" + user_id
        return (
            _TEAMS_CLOUDS.get(str(teams.get("cloud", "public")), "8:orgid:") + user_id
        )
    if (app := value.get("microsoftTeamsApp")) is not None:
        return "28:orgid:" + text(app, "appId", f"{where}.microsoftTeamsApp")
    return None


def parse_time(value: Any, where: str) -> float:
    """An RFC 3339 date-time as epoch seconds; 400 when it is not one."""
    if not isinstance(value, str):
        raise _invalid(f"{where} must be an RFC 3339 date-time", where)
    try:
        moment = datetime.fromisoformat(value.strip().replace("z", "Z"))
    except ValueError:
        raise _invalid(
            f"{where} is not an RFC 3339 date-time: {value!r}", where
        ) from None
    if moment.tzinfo is None:
        raise _invalid(f"{where} must carry a time zone (Z or an offset)", where)
    return moment.timestamp()


def parse_participants(value: Any, where: str) -> list[Participant]:
    """A list of ChatParticipant bodies."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise _invalid(f"{where} must be a list of participants", where)
    found = []
    for index, item in enumerate(value):
        path = f"{where}[{index}]"
        if not isinstance(item, dict):
            raise _invalid(f"{path} must be a ChatParticipant", path)
        raw_id = parse_identifier(
            item.get("communicationIdentifier"), f"{path}.communicationIdentifier"
        )
        name = item.get("displayName")
        if name is not None and not isinstance(name, str):
            raise _invalid(
                f"{path}.displayName must be a string", f"{path}.displayName"
            )
        share = item.get("shareHistoryTime")
        share_at = (
            0.0 if share is None else parse_time(share, f"{path}.shareHistoryTime")
        )
        found.append(Participant(raw_id, name, max(0.0, share_at)))
    return found


def identifier_json(raw_id: str) -> dict[str, Any]:
    """A CommunicationIdentifierModel for a raw id, as ACS answers it."""
    if raw_id.startswith(_USER_PREFIXES):
        return {
            "kind": "communicationUser",
            "rawId": raw_id,
            "communicationUser": {"id": raw_id},
        }
    if raw_id.startswith("4:"):
        return {
            "kind": "phoneNumber",
            "rawId": raw_id,
            "phoneNumber": {"value": raw_id[2:]},
        }
    for cloud, prefix in _TEAMS_CLOUDS.items():
        if raw_id.startswith(prefix):
            return {
                "kind": "microsoftTeamsUser",
                "rawId": raw_id,
                "microsoftTeamsUser": {"userId": raw_id[len(prefix) :], "cloud": cloud},
            }
    return {"kind": "unknown", "rawId": raw_id}


def thread_json(thread: Thread) -> dict[str, Any]:
    """ChatThreadProperties."""
    body: dict[str, Any] = {
        "id": thread.id,
        "topic": thread.topic,
        "createdOn": iso8601(thread.created_at),
        "createdByCommunicationIdentifier": identifier_json(thread.created_by),
    }
    if thread.deleted_at is not None:
        body["deletedOn"] = iso8601(thread.deleted_at)
    return body


def thread_item_json(thread: Thread) -> dict[str, Any]:
    """ChatThreadItem, one entry of the thread list."""
    return {
        "id": thread.id,
        "topic": thread.topic,
        "lastMessageReceivedOn": iso8601(thread.last_message_at),
    }


def participant_json(participant: Participant) -> dict[str, Any]:
    """ChatParticipant."""
    body: dict[str, Any] = {
        "communicationIdentifier": identifier_json(participant.user_id),
        "shareHistoryTime": iso8601(participant.share_history_at),
    }
    if participant.display_name is not None:
        body["displayName"] = participant.display_name
    return body


def message_json(message: Message) -> dict[str, Any]:
    """ChatMessage; system messages carry their change in `content`."""
    body: dict[str, Any] = {
        "id": str(message.id),
        "type": message.type.value,
        "sequenceId": str(message.sequence_id),
        "version": str(message.version),
        "createdOn": iso8601(message.created_at),
    }
    if message.sender_id is not None:
        body["senderCommunicationIdentifier"] = identifier_json(message.sender_id)
    if message.sender_display_name is not None:
        body["senderDisplayName"] = message.sender_display_name
    if message.edited_at is not None:
        body["editedOn"] = iso8601(message.edited_at)
    if message.deleted_at is not None:
        body["deletedOn"] = iso8601(message.deleted_at)
    if message.metadata:
        body["metadata"] = dict(message.metadata)

    content: dict[str, Any] = {}
    if message.content is not None:
        content["message"] = message.content
    if message.topic is not None:
        content["topic"] = message.topic
    if message.participants:
        content["participants"] = [participant_json(p) for p in message.participants]
    if message.initiator is not None:
        content["initiatorCommunicationIdentifier"] = identifier_json(message.initiator)
    if content:
        body["content"] = content
    return body


def receipt_json(receipt: ReadReceipt) -> dict[str, Any]:
    """ChatMessageReadReceipt."""
    return {
        "senderCommunicationIdentifier": identifier_json(receipt.user_id),
        "chatMessageId": str(receipt.message_id),
        "readOn": iso8601(receipt.read_at),
    }


def rejected_json(rejected: Rejected) -> dict[str, Any]:
    """A ChatError in `invalidParticipants`; `target` is the raw id (WIRE.md §1.7)."""
    return {
        "code": rejected.code,
        "message": rejected.message,
        "target": rejected.raw_id,
    }
