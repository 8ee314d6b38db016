"""Typed configuration: defaults, then a TOML file, then the environment, then flags.

Every option lives in a section. In the TOML file it is written under its section
(`[server]`, `[log]`, ...). In the environment it is `SWITCHBOARD_<FIELD>` for the
`server` section and `SWITCHBOARD_<SECTION>_<FIELD>` for the others, upper case.
The loaded configuration is frozen.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ServerSettings(_Section):
    """Where the node listens and what it stores where."""

    data_dir: Path = Field(
        Path("./.switchboard"),
        description="Folder for the SQLite database, TLS files and ports.json.",
    )
    host: str = Field("127.0.0.1", description="Address the HTTP and HTTPS ports bind.")
    http_port: int = Field(
        8080, ge=0, le=65535, description="Plain HTTP port; 0 picks a free one."
    )
    https_port: int = Field(
        8443, ge=0, le=65535, description="HTTPS port; 0 picks a free one."
    )
    public_host: str = Field(
        "localhost",
        description="Host name put in the connection string and generated links.",
    )
    database: str = Field(
        "",
        description=(
            "Database URL; empty means a SQLite file in the data dir. "
            "A postgresql:// URL selects PostgreSQL."
        ),
    )
    redis: str = Field(
        "",
        description="Redis URL for fan-out between nodes; empty means in-process.",
    )
    tls_cert: Path | None = Field(
        None, description="PEM certificate chain; empty means the generated one."
    )
    tls_key: Path | None = Field(None, description="PEM private key for tls_cert.")
    shutdown_grace_s: float = Field(
        10.0, gt=0, description="How long open requests may run after SIGTERM."
    )


class LogSettings(_Section):
    """How the node logs."""

    json_lines: bool = Field(False, description="Write one JSON object per log line.")
    level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="Lowest level written."
    )


class LimitSettings(_Section):
    """Request limits."""

    max_body_bytes: int = Field(
        1_048_576, ge=1024, description="Largest request body accepted (413 above)."
    )
    clock_skew_s: int = Field(
        900, ge=1, description="How far x-ms-date may be from the server's clock."
    )


class IdentitySettings(_Section):
    """User access tokens."""

    user_cache_s: float = Field(
        30.0,
        ge=0,
        description=(
            "How long a node caches a user's revocation state; changes reach "
            "every node at once through the bus, this bounds a missed message."
        ),
    )


class RealtimeSettings(_Section):
    """The realtime WebSocket gateway: retention for resume, buffers, heartbeats."""

    retention_events: int = Field(
        1000,
        ge=1,
        description=(
            "Events kept per user for resume; a client further behind gets resync."
        ),
    )
    retention_s: float = Field(
        600.0,
        gt=0,
        description=(
            "Seconds an event stays available for resume; older ones mean resync."
        ),
    )
    send_buffer_frames: int = Field(
        256,
        ge=1,
        description=(
            "Frames queued for one connection; a consumer further behind is closed "
            "with code 4007."
        ),
    )
    heartbeat_interval_s: float = Field(
        20.0,
        gt=0,
        description=(
            "Seconds between the server's ping frames; a client silent for twice "
            "this is closed with code 4006."
        ),
    )
    auth_timeout_s: float = Field(
        10.0,
        gt=0,
        description="Seconds a new connection has to send its auth frame.",
    )
    max_frame_bytes: int = Field(
        65_536,
        ge=1024,
        description="Largest frame a client may send; larger ones close with 1009.",
    )


class ChatSettings(_Section):
    """Chat: thread sizes, message size, page size and request rates."""

    max_participants_per_thread: int = Field(
        250, ge=1, description="Participants a thread may have at once (ACS: 250)."
    )
    max_participants_per_request: int = Field(
        200,
        ge=1,
        description="Participants one create or add request may name (ACS: 200).",
    )
    max_message_bytes: int = Field(
        28 * 1024,
        ge=1024,
        description=(
            "Largest message, content plus metadata, in UTF-8 bytes (ACS: 28 KB); "
            "larger ones are refused with 400."
        ),
    )
    max_page_size: int = Field(
        200,
        ge=1,
        description="Most items one list page returns; larger maxPageSize is capped.",
    )
    rate_window_s: float = Field(
        10.0, gt=0, description="The window the two request budgets below refill over."
    )
    user_requests: int = Field(
        1000,
        ge=0,
        description=(
            "Chat requests one user may make per window, all operations together; "
            "0 means unlimited. ACS's per-user limits add up to 200 per 10 s."
        ),
    )
    thread_requests: int = Field(
        2000,
        ge=0,
        description=(
            "Chat requests all users together may make on one thread per window; "
            "0 means unlimited. ACS's per-thread limits add up to 885 per 10 s."
        ),
    )


class EventSettings(_Section):
    """Webhook deliveries: polling, leases, retries, retention and allowed targets."""

    poll_interval_s: float = Field(
        1.0, gt=0, description="How often a node looks for due deliveries unprompted."
    )
    batch_size: int = Field(
        100, ge=1, description="Events expanded and deliveries claimed per round."
    )
    lease_s: float = Field(
        30.0,
        gt=0,
        description=(
            "How long a node holds a claimed delivery; a node that dies mid-attempt "
            "leaves it to others after this."
        ),
    )
    timeout_s: float = Field(
        10.0, gt=0, description="How long one delivery attempt may take."
    )
    retry_base_s: float = Field(
        1.0, gt=0, description="Wait after the first failed attempt; doubles each time."
    )
    retry_max_s: float = Field(
        300.0, gt=0, description="Longest wait between two attempts (before jitter)."
    )
    retention_s: float = Field(
        7 * 86400.0,
        gt=0,
        description="How long delivered events are kept before they are purged.",
    )
    allowed_targets: tuple[str, ...] = Field(
        (),
        description=(
            "Networks (CIDR) webhooks may reach although they are loopback, private "
            "or otherwise refused; comma-separated in the environment."
        ),
    )


class TraversalSettings(_Section):
    """The built-in STUN/TURN server and the relay configurations handed out."""

    enabled: bool = Field(
        True, description="Run the STUN/TURN server (the turn role) in this node."
    )
    listen_host: str = Field(
        "127.0.0.1", description="IPv4 address the UDP, TCP and TLS listeners bind."
    )
    udp_port: int = Field(
        3478, ge=0, le=65535, description="STUN/TURN over UDP; 0 picks a free port."
    )
    tcp_port: int = Field(
        3478, ge=0, le=65535, description="STUN/TURN over TCP; 0 picks a free port."
    )
    tls_port: int = Field(
        5349, ge=0, le=65535, description="STUN/TURN over TLS; 0 picks a free port."
    )
    public_host: str = Field(
        "",
        description=(
            "Host name or address put in stun:/turn:/turns: URLs; empty means "
            "server.public_host."
        ),
    )
    relay_host: str = Field(
        "127.0.0.1",
        description="IPv4 address relay sockets bind and advertise to clients.",
    )
    relay_host_v6: str = Field(
        "", description="IPv6 address for IPv6 relays (RFC 6156); empty means none."
    )
    relay_port_min: int = Field(
        49152, ge=1, le=65535, description="Lowest UDP port a relay may use."
    )
    relay_port_max: int = Field(
        65535, ge=1, le=65535, description="Highest UDP port a relay may use."
    )
    # A browser in a call takes a relay per peer connection, network interface and
    # transport, and a call has a peer connection per publication and subscription.
    max_allocations_per_user: int = Field(
        64, ge=1, description="Allocations one user may hold at once (486 above)."
    )
    max_allocations_total: int = Field(
        1000, ge=1, description="Allocations the server holds at once (486 above)."
    )
    bandwidth_bytes_per_s: int = Field(
        0,
        ge=0,
        description=(
            "Relayed bytes per second one allocation may use, both directions "
            "together; 0 means no cap."
        ),
    )
    allowed_peers: tuple[str, ...] = Field(
        (),
        description=(
            "Networks (CIDR) relays may reach although they are loopback, private "
            "or otherwise refused; comma-separated in the environment."
        ),
    )
    default_ttl_s: int = Field(
        172_800,
        ge=1,
        description=(
            "Credential lifetime when a relay request names no ttl (48 h); "
            "max_ttl_s caps it too."
        ),
    )
    max_ttl_s: int = Field(
        172_800,
        ge=1,
        description="Longest credential lifetime handed out; longer requests get this.",
    )
    realm: str = Field(
        "switchboard",
        min_length=1,
        description="The realm of the long-term credentials.",
    )
    external_servers: tuple[str, ...] = Field(
        (),
        description=(
            "Other TURN servers sharing the secret (coturn), one ICE server per entry, "
            "its turn:/turns: URLs separated by spaces; entries comma-separated in the "
            "environment."
        ),
    )

    @field_validator("allowed_peers")
    @classmethod
    def _networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for network in value:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError as exc:
                raise ValueError(f"{network!r} is not a network: {exc}") from None
        return value

    @field_validator("external_servers")
    @classmethod
    def _server_urls(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for entry in value:
            urls = entry.split()
            if not urls or not all(u.startswith(("turn:", "turns:")) for u in urls):
                raise ValueError(f"{entry!r} is not a list of turn: or turns: URLs")
        return value

    @model_validator(mode="after")
    def _ranges(self) -> TraversalSettings:
        if self.relay_port_min > self.relay_port_max:
            raise ValueError("relay_port_min is above relay_port_max")
        return self


class SmsSettings(_Section):
    """SMS: the per-number send budget and how queued messages reach carriers."""

    rate_window_s: float = Field(
        60.0, gt=0, description="The window the per-number send budget refills over."
    )
    number_requests: int = Field(
        200,
        ge=0,
        description=(
            "Send requests one sender number may make per window, each with up to "
            "100 recipients; 0 means unlimited. Over it, 429 with Retry-After."
        ),
    )
    submit_attempts: int = Field(
        8,
        ge=1,
        description=(
            "Attempts to hand a message to its carrier on transient errors before "
            "it is marked failed."
        ),
    )
    retry_base_s: float = Field(
        1.0, gt=0, description="Wait after the first failed submission; doubles."
    )
    retry_max_s: float = Field(
        60.0, gt=0, description="Longest wait between two submissions (before jitter)."
    )
    lease_s: float = Field(
        30.0,
        gt=0,
        description=(
            "How long a node holds a message it is submitting; a node that dies "
            "mid-submission leaves it to others after this."
        ),
    )
    batch_size: int = Field(
        100, ge=1, description="Queued messages one node claims per round."
    )
    poll_interval_s: float = Field(
        1.0, gt=0, description="How often a node looks for queued messages unprompted."
    )


class NumberBlockSettings(_Section):
    """A block of numbers a configured carrier link serves, with what they can do."""

    country: str = Field(
        min_length=2, max_length=2, description="ISO 3166 alpha-2 code, e.g. US."
    )
    number_type: Literal["geographic", "tollFree", "mobile"] = Field(
        "geographic", description="The ACS phone number type."
    )
    first: str = Field(
        pattern=r"^\+[1-9][0-9]{1,14}$",
        description="The first number of the block in E.164, e.g. +14255550100.",
    )
    count: int = Field(1, ge=1, description="How many consecutive numbers.")
    sms: Literal["none", "inbound", "outbound", "inbound+outbound"] = Field(
        "inbound+outbound", description="SMS capability offered."
    )
    calling: Literal["none", "inbound", "outbound", "inbound+outbound"] = Field(
        "none", description="Calling capability offered."
    )
    monthly_cost: float = Field(1.0, ge=0, description="Monthly cost of one number.")
    currency: str = Field("USD", description="ISO 4217 currency of monthly_cost.")
    area_code: str = Field("", description="Area code the numbers are in, if any.")
    locality: str = Field("", description="Town the numbers belong to, if any.")


class SmppLinkSettings(_Section):
    """One SMPP 3.4 link to an SMSC, bound as a transceiver (`[[telephony.smpp]]`)."""

    name: str = Field(min_length=1, description="The carrier name of this link.")
    host: str = Field("127.0.0.1", description="The SMSC's host name or address.")
    port: int = Field(2775, ge=1, le=65535, description="The SMSC's TCP port.")
    system_id: str = Field(max_length=15, description="bind system_id.")
    password: SecretStr = Field(
        SecretStr(""), description="bind password, at most 8 characters; never logged."
    )
    system_type: str = Field("", max_length=12, description="bind system_type.")
    blocks: tuple[NumberBlockSettings, ...] = Field(
        (), description="The numbers this link serves (`[[telephony.smpp.blocks]]`)."
    )
    window: int = Field(
        10, ge=1, le=1000, description="Requests outstanding at once on the link."
    )
    enquire_interval_s: float = Field(
        30.0, gt=0, description="Seconds between enquire_link keep-alives."
    )
    bind_timeout_s: float = Field(
        10.0, gt=0, description="How long to wait for the bind answer."
    )
    response_timeout_s: float = Field(
        10.0, gt=0, description="How long to wait for the answer to any request."
    )
    reconnect_min_s: float = Field(
        1.0, gt=0, description="Wait before the first reconnection; doubles."
    )
    reconnect_max_s: float = Field(
        60.0, gt=0, description="Longest wait between two reconnections."
    )
    gsm_packed: bool = Field(
        False,
        description=(
            "Send and read GSM 7-bit text packed (7 bits per character) instead "
            "of one septet per octet, which most SMSCs expect."
        ),
    )
    submit_attempts: int = Field(
        5,
        ge=1,
        description=(
            "Tries per message part on throttling, transient errors and lost "
            "links, before the submission fails as transient."
        ),
    )
    throttle_backoff_s: float = Field(
        0.5, gt=0, description="Pause of the link after ESME_RTHROTTLED; doubles."
    )
    submit_wait_s: float = Field(
        10.0,
        ge=0,
        description="How long a submission waits for the link to be bound.",
    )

    @field_validator("password")
    @classmethod
    def _password_fits(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value().encode("latin-1", "replace")) > 8:
            raise ValueError("an SMPP 3.4 password has at most 8 characters")
        return value


class TelephonySettings(_Section):
    """Carriers: the virtual phone network (the embedded default) and real links."""

    virtual_carrier: bool = Field(
        True,
        description=(
            "Run the virtual phone network, its page at /virtual-phone and its API "
            "under /virtual-phone/api; a development tool."
        ),
    )
    virtual_phone_access: Literal["loopback", "anyone"] = Field(
        "loopback",
        description=(
            "Who may use the virtual phone: `loopback` serves the page to loopback "
            "clients only and the API to loopback clients or requests signed with "
            "an access key; `anyone` opens both to every client."
        ),
    )
    virtual_report_delay_s: float = Field(
        1.0,
        ge=0,
        description="Seconds the virtual network takes to report on a message.",
    )
    virtual_failure_rate: float = Field(
        0.0,
        ge=0,
        le=1,
        description="Share of virtual messages (0 to 1) whose report says Failed.",
    )
    virtual_expiry_rate: float = Field(
        0.0,
        ge=0,
        le=1,
        description="Share of virtual messages (0 to 1) whose report says Expired.",
    )
    smpp: tuple[SmppLinkSettings, ...] = Field(
        (), description="SMPP 3.4 links to SMSCs, one `[[telephony.smpp]]` table each."
    )

    @model_validator(mode="after")
    def _rates(self) -> TelephonySettings:
        if self.virtual_failure_rate + self.virtual_expiry_rate > 1:
            raise ValueError(
                "virtual_failure_rate and virtual_expiry_rate add up to more than 1"
            )
        return self


class NumberSettings(_Section):
    """Phone numbers: how long a search holds its numbers, how clients poll."""

    search_hold_s: float = Field(
        900.0,
        gt=0,
        description=(
            "How long a search holds the numbers it found for a purchase; after "
            "that they are free for other searches."
        ),
    )
    poll_retry_ms: int = Field(
        10,
        ge=1,
        description="The `retry-after-ms` given with each long-running operation.",
    )
    operation_retention_s: float = Field(
        86400.0,
        gt=0,
        description="How long operations and expired searches stay readable.",
    )


class PushSettings(_Section):
    """Push notifications: providers' credentials, previews, the delivery outbox."""

    preview: Literal["full", "sender", "none"] = Field(
        "sender",
        description=(
            "What a chat message push shows: full (sender and text), sender (the "
            "sender's name only) or none."
        ),
    )
    public_endpoint: str = Field(
        "",
        description=(
            "The endpoint put in pushes for apps to connect back to; empty means "
            "https://<public_host>:<https_port>."
        ),
    )
    registration_ttl_s: float = Field(
        30 * 86400.0,
        gt=0,
        description="How long a registration lives when it names no expiresOn.",
    )
    registration_max_ttl_s: float = Field(
        365 * 86400.0,
        gt=0,
        description="The latest expiresOn a registration may ask for, from now.",
    )
    max_registrations_per_user: int = Field(
        20, ge=1, description="Devices one user may register at once (409 above)."
    )
    message_ttl_s: int = Field(
        86400,
        ge=0,
        description=(
            "How long providers keep a chat message push for a device that is off."
        ),
    )
    call_ttl_s: int = Field(
        60,
        ge=0,
        description="How long providers keep an incoming call push (a ringing call).",
    )
    poll_interval_s: float = Field(
        1.0, gt=0, description="How often a node looks for due pushes unprompted."
    )
    batch_size: int = Field(100, ge=1, description="Pushes one node claims per round.")
    lease_s: float = Field(
        30.0,
        gt=0,
        description=(
            "How long a node holds a push it is sending; a node that dies mid-send "
            "leaves it to others after this."
        ),
    )
    timeout_s: float = Field(10.0, gt=0, description="How long one send may take.")
    max_attempts: int = Field(
        8, ge=1, description="Attempts on transient errors before a push is dropped."
    )
    retry_base_s: float = Field(
        1.0, gt=0, description="Wait after the first failed send; doubles each time."
    )
    retry_max_s: float = Field(
        300.0, gt=0, description="Longest wait between two sends (before jitter)."
    )
    presence_ttl_s: float = Field(
        60.0,
        gt=0,
        description=(
            "With Redis: how long a node's mark that a user is connected lasts "
            "unless refreshed (a third of it is the refresh period)."
        ),
    )
    allowed_targets: tuple[str, ...] = Field(
        (),
        description=(
            "Networks (CIDR) Web Push endpoints may be on although they are "
            "loopback or private; comma-separated in the environment."
        ),
    )
    apns_team_id: str = Field("", description="APNs token auth: the Apple team id.")
    apns_key_id: str = Field("", description="APNs token auth: the p8 key's id.")
    apns_key_file: Path | None = Field(
        None, description="APNs token auth: the .p8 signing key (PEM); empty disables."
    )
    apns_topic: str = Field(
        "", description="The app's bundle id; VoIP pushes go to <topic>.voip."
    )
    apns_environment: Literal["sandbox", "production"] = Field(
        "production", description="Which APNs servers: sandbox or production."
    )
    apns_endpoint: str = Field(
        "", description="Base URL replacing the APNs servers (a local test server)."
    )
    fcm_service_account_file: Path | None = Field(
        None,
        description=(
            "FCM HTTP v1: the Firebase service-account JSON (project_id, "
            "client_email, private_key, token_uri); empty disables FCM."
        ),
    )
    fcm_endpoint: str = Field(
        "https://fcm.googleapis.com", description="Base URL of the FCM v1 send API."
    )
    wns_client_id: str = Field(
        "", description="WNS: the app's package SID (client id); empty disables WNS."
    )
    wns_client_secret: SecretStr = Field(
        SecretStr(""), description="WNS: the app's client secret."
    )
    wns_login_url: str = Field(
        "https://login.live.com/accesstoken.srf",
        description="Where WNS access tokens are obtained (client credentials).",
    )
    wns_scope: str = Field(
        "notify.windows.com", description="The scope asked for with WNS tokens."
    )
    wns_channel_hosts: tuple[str, ...] = Field(
        ("notify.windows.com",),
        description=(
            "Hosts (and their subdomains) a WNS channel URI may name; "
            "comma-separated in the environment."
        ),
    )
    webpush_subject: str = Field(
        "",
        description=(
            "VAPID contact (mailto: or https: URL) sent to Web Push services; "
            "empty means https://<public_host>."
        ),
    )


class MediaSettings(_Section):
    """The media engine: an embedded Janus, or the Janus servers calls are placed on."""

    embedded: Literal["auto", "on", "off"] = Field(
        "auto",
        description=(
            "Run a Janus next to the node: `auto` does when `servers` is empty and "
            "the janus binary exists; `on` also beside configured servers."
        ),
    )
    janus_binary: str = Field(
        "janus", description="The Janus executable the embedded server runs."
    )
    api_host: str = Field(
        "127.0.0.1",
        description="Address the embedded Janus's WebSocket API binds.",
    )
    api_port: int = Field(
        0,
        ge=0,
        le=65535,
        description="Port of the embedded Janus's WebSocket API; 0 picks a free one.",
    )
    ice_addresses: tuple[str, ...] = Field(
        (),
        description=(
            "Interfaces or addresses the embedded Janus gathers ICE candidates on "
            "(its ice_enforce_list); empty means every non-loopback interface."
        ),
    )
    nat_1_1_mapping: str = Field(
        "",
        description=(
            "Public address(es) of a host behind 1:1 NAT, put in the embedded "
            "Janus's candidates instead of the private ones; empty means none."
        ),
    )
    keep_private_host: bool = Field(
        False,
        description="With nat_1_1_mapping, also offer the private host candidates.",
    )
    rtp_port_min: int = Field(
        0,
        ge=0,
        le=65535,
        description="Lowest UDP port the embedded Janus uses for media; 0 means any.",
    )
    rtp_port_max: int = Field(
        0,
        ge=0,
        le=65535,
        description="Highest UDP port the embedded Janus uses for media; 0 means any.",
    )
    servers: tuple[str, ...] = Field(
        (),
        description=(
            "Janus servers to place calls on, each `name=ws://host:port`; "
            "comma-separated in the environment. `embedded` names the embedded one."
        ),
    )
    api_secret: SecretStr = Field(
        SecretStr(""),
        description="The api_secret of the configured servers, if they have one.",
    )
    publishers: int = Field(
        64, ge=2, description="Most publishers one call's room accepts at once."
    )
    keepalive_s: float = Field(
        25.0, gt=0, description="Seconds between keepalives of a Janus session."
    )
    request_timeout_s: float = Field(
        10.0, gt=0, description="How long a request to Janus may take."
    )
    reconnect_max_s: float = Field(
        10.0,
        gt=0,
        description="Longest wait between two attempts to reach a lost server.",
    )
    restart_max_s: float = Field(
        30.0,
        gt=0,
        description="Longest wait before restarting an embedded Janus that died.",
    )

    @field_validator("servers")
    @classmethod
    def _server_entries(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        names = set()
        for entry in value:
            name, _, url = entry.partition("=")
            if not name or not url.startswith(("ws://", "wss://")):
                raise ValueError(f"{entry!r} is not name=ws://host:port")
            if name in names:
                raise ValueError(f"media server {name!r} is named twice")
            names.add(name)
        return value

    @model_validator(mode="after")
    def _rtp_range(self) -> MediaSettings:
        if (self.rtp_port_min == 0) != (self.rtp_port_max == 0):
            raise ValueError("set both rtp_port_min and rtp_port_max, or neither")
        if self.rtp_port_min > self.rtp_port_max:
            raise ValueError("rtp_port_min is above rtp_port_max")
        return self


class RoomsSettings(_Section):
    """Rooms: how many participants a room may have, and list page sizes."""

    max_participants: int = Field(
        250, ge=1, description="Participants one room may have at once."
    )
    max_page_size: int = Field(
        100,
        ge=1,
        description=(
            "Most rooms or participants one list page returns; a smaller "
            "maxPageSize query parameter gives smaller pages."
        ),
    )


class CallSettings(_Section):
    """Calls: how long a call rings, how long a lost participant is waited for."""

    ring_timeout_s: float = Field(
        45.0,
        gt=0,
        description=(
            "Seconds a call rings before the callees that did not answer stop "
            "ringing (reason noAnswer)."
        ),
    )
    reconnect_grace_s: float = Field(
        20.0,
        ge=0,
        description=(
            "Seconds a participant whose last connection closed stays in the call, "
            "waiting for it to join again."
        ),
    )
    max_participants: int = Field(
        50, ge=2, description="Participants one call may have at once."
    )


class Settings(_Section):
    """The whole configuration of one node."""

    server: ServerSettings = ServerSettings()
    log: LogSettings = LogSettings()
    limits: LimitSettings = LimitSettings()
    identity: IdentitySettings = IdentitySettings()
    chat: ChatSettings = ChatSettings()
    realtime: RealtimeSettings = RealtimeSettings()
    events: EventSettings = EventSettings()
    turn: TraversalSettings = TraversalSettings()
    sms: SmsSettings = SmsSettings()
    telephony: TelephonySettings = TelephonySettings()
    numbers: NumberSettings = NumberSettings()
    rooms: RoomsSettings = RoomsSettings()
    media: MediaSettings = MediaSettings()
    push: PushSettings = PushSettings()
    calls: CallSettings = CallSettings()

    @property
    def database_url(self) -> str:
        """The SQLAlchemy async URL of the database."""
        url = self.server.database
        if not url:
            return f"sqlite+aiosqlite:///{self.server.data_dir / 'switchboard.db'}"
        if url.startswith(("postgresql://", "postgres://")):
            return "postgresql+asyncpg://" + url.split("://", 1)[1]
        return url


class ConfigError(Exception):
    """The configuration cannot be loaded; the message says which option and why."""


_SECTIONS: dict[str, type[_Section]] = {
    "server": ServerSettings,
    "log": LogSettings,
    "limits": LimitSettings,
    "identity": IdentitySettings,
    "chat": ChatSettings,
    "realtime": RealtimeSettings,
    "events": EventSettings,
    "turn": TraversalSettings,
    "sms": SmsSettings,
    "telephony": TelephonySettings,
    "numbers": NumberSettings,
    "rooms": RoomsSettings,
    "media": MediaSettings,
    "push": PushSettings,
    "calls": CallSettings,
}


def env_name(section: str, field: str) -> str:
    """The environment variable that sets `section.field`."""
    if section == "server":
        return f"SWITCHBOARD_{field.upper()}"
    return f"SWITCHBOARD_{section.upper()}_{field.upper()}"


def load_settings(
    config_file: Path | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Merge the file, the environment and explicit overrides into Settings."""
    env = os.environ if environ is None else environ
    merged: dict[str, dict[str, Any]] = {name: {} for name in _SECTIONS}

    # The file
    if config_file is not None:
        try:
            data = tomllib.loads(config_file.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read {config_file}: {exc}") from exc
        for section, values in data.items():
            if section not in _SECTIONS or not isinstance(values, dict):
                raise ConfigError(f"{config_file}: unknown section [{section}]")
            merged[section].update(values)

    # The environment
    for section, model in _SECTIONS.items():
        for field in model.model_fields:
            value = env.get(env_name(section, field))
            if value is None:
                continue
            if model.model_fields[field].annotation == tuple[str, ...]:
                merged[section][field] = [v.strip() for v in value.split(",") if v]
            else:
                merged[section][field] = value

    # Flags
    for section, values in (overrides or {}).items():
        merged[section].update({k: v for k, v in values.items() if v is not None})

    try:
        return Settings.model_validate(merged)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigError(f"invalid configuration: {problems}") from exc


def describe_options() -> list[tuple[str, str, str, str]]:
    """Every option as (toml key, environment variable, default, description)."""
    rows = []
    for section, model in _SECTIONS.items():
        for name, info in model.model_fields.items():
            default = "" if info.default is None else str(info.default)
            rows.append(
                (
                    f"{section}.{name}",
                    env_name(section, name),
                    default,
                    info.description or "",
                )
            )
    return rows


NON_OPTION_VARIABLES = frozenset(
    {"SWITCHBOARD_CONFIG", "SWITCHBOARD_CONNECTION_STRING", "SWITCHBOARD_ENDPOINT"}
)
"""SWITCHBOARD_* variables that are not options: the config file, and what the
examples and clients read."""


def unknown_environment(environ: Mapping[str, str]) -> list[str]:
    """Warnings for SWITCHBOARD_* variables that set no option, with a likely fix."""
    known = {env_name(section, field) for section, model in _SECTIONS.items()
             for field in model.model_fields}  # fmt: skip
    warnings = []
    for name in sorted(environ):
        if not name.startswith("SWITCHBOARD_") or name in known:
            continue
        if name in NON_OPTION_VARIABLES or name.startswith("SWITCHBOARD_TEST_"):
            continue
        close = difflib.get_close_matches(name, known, n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        warnings.append(f"{name} is not a Switchboard option and is ignored{hint}")
    return warnings
