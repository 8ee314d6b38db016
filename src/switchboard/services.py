"""The collaborators the composition root builds once and hands to every route."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry

from switchboard.auth.resource import ResourceStore
from switchboard.auth.tokens import SigningKey, TokenVerifier
from switchboard.bus import Bus
from switchboard.calls.service import CallService
from switchboard.chat.service import ChatService
from switchboard.config import Settings
from switchboard.core.clock import Clock
from switchboard.events.service import EventSubscriptions
from switchboard.identity.service import IdentityService
from switchboard.media.engine import MediaEngine
from switchboard.numbers.service import NumberService
from switchboard.push.service import PushService
from switchboard.realtime.hub import RealtimeHub
from switchboard.rooms.service import RoomsService
from switchboard.sms.service import SmsService
from switchboard.storage.engine import Database
from switchboard.telephony.carriers.setup import Carriers
from switchboard.traversal.service import RelayService


@dataclass(frozen=True, slots=True)
class Services:
    """Everything a request handler may need, built by `Node`."""

    settings: Settings
    clock: Clock
    db: Database
    bus: Bus
    registry: CollectorRegistry
    resource_id: str
    resource: ResourceStore
    signing_keys: list[SigningKey]
    tokens: TokenVerifier
    identity: IdentityService
    realtime: RealtimeHub
    chat: ChatService
    events: EventSubscriptions
    traversal: RelayService
    carriers: Carriers
    numbers: NumberService
    sms: SmsService
    push: PushService
    rooms: RoomsService
    media: MediaEngine
    calls: CallService
