"""SMS accept throughput and latency through the REST API, to the virtual network.

Starts a node (SQLite unless --database) with the virtual network and no send
budget, buys a number through the phone numbers API, then sends `POST /sms`
requests with delivery reports on from concurrent senders. Prints accepted
messages per second, the accept latency of a request (p50, p99), and how long
the node took to hand every message to the carrier. Prints numbers; asserts
nothing.

    .venv/bin/python benchmarks/sms.py
    .venv/bin/python benchmarks/sms.py --requests 2000 --senders 16 --recipients 5
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
import time
from email.utils import formatdate
from urllib.parse import urlsplit

import httpx
from local_node import LocalNode, local_node

from switchboard.auth.hmac import authorization_header

SMS_PATH = "/sms?api-version=2021-03-07"


def buy_number(node: LocalNode) -> str:
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
        area_code="425",
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
    node: LocalNode, sender: str, requests: int, senders: int, recipients: int
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
    print(
        f"all handed to the virtual carrier after {handed:.2f} s "
        f"({accepted / handed:.0f} messages per second end to end)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--senders", type=int, default=8)
    parser.add_argument("--recipients", type=int, default=1)
    parser.add_argument("--database", help="database URL for the node started here")
    args = parser.parse_args()
    print(f"python {platform.python_version()}, {os.cpu_count()} CPUs shared by all")
    env = {"SWITCHBOARD_SMS_NUMBER_REQUESTS": "0"}
    with local_node(args.database, env) as node:
        sender = buy_number(node)
        asyncio.run(run(node, sender, args.requests, args.senders, args.recipients))


if __name__ == "__main__":
    main()
