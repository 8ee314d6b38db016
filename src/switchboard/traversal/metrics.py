"""Prometheus counters of the TURN server, registered on a given registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class TurnMetrics:
    """The TURN server's counters and gauges on one registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.allocations_active = Gauge(
            "switchboard_turn_allocations_active",
            "TURN allocations currently active.",
            registry=registry,
        )
        self.allocations = Counter(
            "switchboard_turn_allocations",
            "TURN allocations created.",
            registry=registry,
        )
        self.relayed_packets = Counter(
            "switchboard_turn_relayed_packets",
            "Packets relayed, by direction (to_peer or to_client).",
            ["direction"],
            registry=registry,
        )
        self.relayed_bytes = Counter(
            "switchboard_turn_relayed_bytes",
            "Application bytes relayed, by direction (to_peer or to_client).",
            ["direction"],
            registry=registry,
        )
        self.rejected_peers = Counter(
            "switchboard_turn_rejected_peers",
            "Peer addresses refused by the address guard.",
            registry=registry,
        )
        self.auth_failures = Counter(
            "switchboard_turn_auth_failures",
            "Requests that failed authentication, by reason.",
            ["reason"],
            registry=registry,
        )
        self.dropped_packets = Counter(
            "switchboard_turn_dropped_packets",
            "Packets dropped, by reason.",
            ["reason"],
            registry=registry,
        )
        self.packets_to_peer = self.relayed_packets.labels("to_peer")
        self.packets_to_client = self.relayed_packets.labels("to_client")
        self.bytes_to_peer = self.relayed_bytes.labels("to_peer")
        self.bytes_to_client = self.relayed_bytes.labels("to_client")
