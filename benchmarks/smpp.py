"""SMPP carrier throughput: messages through one link to the test SMSC.

Starts the test SMSC of tests/telephony/smsc.py (built on smpplib) on
127.0.0.1, binds an SmppCarrier to it and submits messages from concurrent
senders with delivery reports on; the SMSC answers each with a DELIVRD receipt
at once. Prints submitted messages per second, the submit latency (p50, p99)
and how long until every delivery report was handed over. Prints numbers;
asserts nothing.

    .venv/bin/python benchmarks/smpp.py
    .venv/bin/python benchmarks/smpp.py --messages 20000 --senders 64 --window 50
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.telephony.smsc import TestSmsc

from switchboard.config import SmppLinkSettings
from switchboard.telephony.carriers.base import (
    DeliveryReport,
    Inbound,
    InboundPart,
    InboundSms,
    OutboundSms,
)
from switchboard.telephony.carriers.smpp import SmppCarrier


async def run(messages: int, senders: int, window: int, length: int) -> None:
    """Push `messages` through the carrier and print the figures."""
    smsc = TestSmsc(auto_receipts=True)
    port = await smsc.start()
    reports: list[DeliveryReport] = []
    all_reported = asyncio.Event()

    async def on_sms(sms: InboundSms) -> None:
        return None

    async def on_part(part: InboundPart) -> None:
        return None

    async def on_report(report: DeliveryReport) -> None:
        reports.append(report)
        if len(reports) == messages:
            all_reported.set()

    carrier = SmppCarrier(
        SmppLinkSettings.model_validate(
            {
                "name": "bench",
                "port": port,
                "system_id": smsc.system_id,
                "password": smsc.password,
                "window": window,
            }
        )
    )
    await carrier.start(Inbound(on_sms=on_sms, on_part=on_part, on_report=on_report))
    await carrier.ready()

    text = ("Benchmark message " * 20)[:length]
    latencies: list[float] = []
    counter = iter(range(messages))

    async def sender() -> None:
        for n in counter:
            message = OutboundSms(
                message_id=f"Outgoing_{n}",
                sender="+14255550100",
                recipient="+447700900123",
                text=text,
                delivery_report=True,
            )
            started = time.perf_counter()
            await carrier.submit(message)
            latencies.append(time.perf_counter() - started)

    began = time.perf_counter()
    await asyncio.gather(*(sender() for _ in range(senders)))
    submitted = time.perf_counter() - began
    await asyncio.wait_for(all_reported.wait(), 120)
    reported = time.perf_counter() - began
    await carrier.stop()
    await smsc.stop()

    cuts = statistics.quantiles(latencies, n=100)
    parts = len(smsc.submitted)
    print(f"python {platform.python_version()}, {messages} messages of {length} chars")
    print(f"senders {senders}, window {window}, {parts} submit_sm in all")
    rate = messages / submitted
    print(f"submitted: {rate:.0f} messages/s ({parts / submitted:.0f} PDUs/s)")
    print(f"submit latency: p50 {cuts[49] * 1000:.2f} ms, p99 {cuts[98] * 1000:.2f} ms")
    print(f"all {len(reports)} delivery reports in after {reported:.2f} s")


def main() -> None:
    """Parse the options and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--senders", type=int, default=32)
    parser.add_argument("--window", type=int, default=20)
    parser.add_argument(
        "--length", type=int, default=100, help="characters per message (>160: parts)"
    )
    args = parser.parse_args()
    asyncio.run(run(args.messages, args.senders, args.window, args.length))


if __name__ == "__main__":
    main()
