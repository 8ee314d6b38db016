"""SMS accept throughput and latency through the REST API, to a carrier.

Starts a node (SQLite unless --database) with the virtual network and no send
budget, buys a number through the phone numbers API, then sends `POST /sms`
requests with delivery reports on from concurrent senders. Prints accepted
messages per second, the accept latency of a request (p50, p99), and how long
the node took to hand every message to the carrier. Prints numbers; asserts
nothing.

With --smpp the node's number comes from an `[[telephony.smpp]]` link (the
virtual network off) to the test SMSC of tests/telephony/smsc.py, started here
on 127.0.0.1 in a thread of this process; the SMSC answers every message with
a DELIVRD receipt at once, and the benchmark also prints how long until the
node had taken every receipt (answered its deliver_sm, which it does only
after storing the report).

    .venv/bin/python benchmarks/sms.py
    .venv/bin/python benchmarks/sms.py --requests 2000 --senders 16 --recipients 5
    .venv/bin/python benchmarks/sms.py --smpp --window 20
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import ssl
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email.utils import formatdate
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from local_node import LocalNode, local_node

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.telephony.smsc import TestSmsc
from tests.telephony.smsc_thread import ThreadedSmsc

from switchboard.auth.hmac import authorization_header

SMS_PATH = "/sms?api-version=2021-03-07"

SMPP_CONFIG = """\
[telephony]
virtual_carrier = false

[[telephony.smpp]]
name = "bench-smsc"
host = "127.0.0.1"
port = {port}
system_id = "{system_id}"
password = "{password}"
window = {window}

[[telephony.smpp.blocks]]
country = "US"
number_type = "geographic"
first = "+13125550100"
count = 10
sms = "inbound+outbound"
calling = "inbound+outbound"
area_code = "312"
"""
"""The node's only carrier: one link to the test SMSC, with a block in 312."""


@contextmanager
def smpp_config(smsc: ThreadedSmsc, window: int) -> Iterator[Path]:
    """A configuration file with one SMPP link to `smsc`, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="switchboard-bench-smpp-") as folder:
        path = Path(folder) / "switchboard.toml"
        text = SMPP_CONFIG.format(
            port=smsc.port,
            system_id=smsc.smsc.system_id,
            password=smsc.smsc.password,
            window=window,
        )
        path.write_text(text, encoding="utf-8")
        yield path


def receipts_taken(smsc: TestSmsc) -> int:
    """Receipts the node answered with ESME_ROK, that is stored."""
    return sum(1 for status in list(smsc.answers.values()) if status == 0)


def buy_number(node: LocalNode, area_code: str = "425") -> str:
    """One number with SMS, bought through the official client."""
    os.environ["REQUESTS_CA_BUNDLE"] = str(node.ca)
    from azure.communication.phonenumbers import (
        PhoneNumberAssignmentType,
        PhoneNumberCapabilities,
        PhoneNumberCapabilityType,
        PhoneNumbersClient,
        PhoneNumberType,
    )

    client = PhoneNumbersClient.from_connection_string(node.connection_string)
    both = PhoneNumberCapabilityType.INBOUND_OUTBOUND
    search = client.begin_search_available_phone_numbers(
        "US",
        PhoneNumberType.GEOGRAPHIC,
        PhoneNumberAssignmentType.APPLICATION,
        PhoneNumberCapabilities(calling=both, sms=both),
        area_code=area_code,
        polling_interval=0.01,
    ).result()
    client.begin_purchase_phone_numbers(
        search.search_id, polling_interval=0.01
    ).result()
    number: str = search.phone_numbers[0]
    return number


def handset(index: int) -> str:
    """A valid handset number for each index, never a failing test number.

    The virtual network fails numbers ending 96 to 99 on purpose; these end
    00 to 95, in the 425-200 to 425-299 exchanges.
    """
    return f"+1425{2_000_000 + (index // 96) * 100 + index % 96:07d}"


async def signed_post(
    http: httpx.AsyncClient, node: LocalNode, path: str, body: object
) -> httpx.Response:
    """A POST signed with the access key."""
    content = json.dumps(body).encode()
    host = urlsplit(node.endpoint).netloc
    headers = authorization_header(
        node.access_key, "POST", path, formatdate(usegmt=True), host, content
    )
    headers["Content-Type"] = "application/json"
    return await http.post(node.endpoint + path, content=content, headers=headers)


async def submitted(http: httpx.AsyncClient, node: LocalNode) -> int:
    """Messages the node has handed to a carrier so far (from /metrics)."""
    text = (await http.get(f"{node.endpoint}/metrics")).text
    found = re.search(
        r'^switchboard_sms_submissions_total\{outcome="submitted"\} (\S+)$',
        text,
        re.MULTILINE,
    )
    return int(float(found.group(1))) if found else 0


async def run(
    node: LocalNode,
    sender: str,
    requests: int,
    senders: int,
    recipients: int,
    smsc: TestSmsc | None = None,
) -> None:
    verify = ssl.create_default_context(cafile=str(node.ca))
    latencies: list[float] = []
    accepted = 0
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(requests):
        queue.put_nowait(n)

    async with httpx.AsyncClient(verify=verify, timeout=60) as http:

        async def client() -> None:
            nonlocal accepted
            while not queue.empty():
                n = queue.get_nowait()
                to = [{"to": handset(n * recipients + i)} for i in range(recipients)]
                body = {
                    "from": sender,
                    "smsRecipients": to,
                    "message": f"benchmark message {n}",
                    "smsSendOptions": {"enableDeliveryReport": True, "tag": "bench"},
                }
                began = time.perf_counter()
                answer = await signed_post(http, node, SMS_PATH, body)
                latencies.append(time.perf_counter() - began)
                answer.raise_for_status()
                accepted += sum(1 for r in answer.json()["value"] if r["successful"])

        first = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(senders)))
        sending = time.perf_counter() - first
        while await submitted(http, node) < accepted:
            await asyncio.sleep(0.05)
        handed = time.perf_counter() - first

    deadline = time.monotonic() + 300
    while smsc is not None and receipts_taken(smsc) < accepted:
        if time.monotonic() > deadline:
            break
        await asyncio.sleep(0.05)
    reported = time.perf_counter() - first

    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    print(
        f"requests: {requests} by {senders} senders, {recipients} recipient(s) each, "
        "delivery reports on"
    )
    print(f"accepted messages: {accepted} in {sending:.2f} s")
    print(f"accepted messages per second: {accepted / sending:.0f}")
    print(
        f"accept latency per request: p50 {cuts[49] * 1000:.1f} ms, "
        f"p99 {cuts[98] * 1000:.1f} ms"
    )
    carrier = "the virtual carrier" if smsc is None else "the SMSC"
    print(
        f"all handed to {carrier} after {handed:.2f} s "
        f"({accepted / handed:.0f} messages per second end to end)"
    )
    if smsc is None:
        return
    print(
        f"{len(smsc.submitted)} submit_sm at the SMSC; "
        f"{receipts_taken(smsc)} of {accepted} delivery receipts taken by the node "
        f"after {reported:.2f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--senders", type=int, default=8)
    parser.add_argument("--recipients", type=int, default=1)
    parser.add_argument("--database", help="database URL for the node started here")
    parser.add_argument(
        "--smpp", action="store_true", help="send through an SMPP link to a test SMSC"
    )
    parser.add_argument(
        "--window", type=int, default=10, help="the SMPP link's window (with --smpp)"
    )
    args = parser.parse_args()
    print(f"python {platform.python_version()}, {os.cpu_count()} CPUs shared by all")
    env = {"SWITCHBOARD_SMS_NUMBER_REQUESTS": "0"}
    load = (args.requests, args.senders, args.recipients)
    if not args.smpp:
        with local_node(args.database, env) as node:
            sender = buy_number(node)
            asyncio.run(run(node, sender, *load))
        return

    smsc = ThreadedSmsc(TestSmsc(auto_receipts=True))
    try:
        with (
            smpp_config(smsc, args.window) as config,
            local_node(args.database, env, config) as node,
        ):
            sender = buy_number(node, area_code="312")
            print(f"SMPP link to the test SMSC, window {args.window}")
            asyncio.run(run(node, sender, *load, smsc=smsc.smsc))
    finally:
        smsc.stop()


if __name__ == "__main__":
    main()
