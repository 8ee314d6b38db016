"""Webhook delivery throughput and delay, from the causing request to the receiver.

Starts a node (SQLite unless --database), a local receiver, and a subscription to
`ChatMessageReceivedInThread`; sends chat messages from concurrent senders and
prints deliveries per second and the delay from sending a message to its event
arriving (p50, p99). Prints numbers; asserts nothing.

    .venv/bin/python benchmarks/events.py
    .venv/bin/python benchmarks/events.py --messages 2000 --senders 16
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import ssl
import statistics
import time
from email.utils import formatdate
from urllib.parse import quote, urlsplit

import httpx
from aiohttp import web
from local_node import LocalNode, local_node

from switchboard.auth.hmac import authorization_header

IN_THREAD = "Microsoft.Communication.ChatMessageReceivedInThread"


class Receiver:
    """Answers the handshake and records when each message's event arrived."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        self.deliveries = 0
        self.port = 0

    async def handle(self, request: web.Request) -> web.Response:
        now = time.perf_counter()
        events = json.loads(await request.read())
        event = events[0]
        if request.headers.get("aeg-event-type") == "SubscriptionValidation":
            return web.json_response(
                {"validationResponse": event["data"]["validationCode"]}
            )
        self.deliveries += 1
        self.arrived.setdefault(event["data"]["messageId"], now)
        return web.Response()

    async def start(self) -> web.AppRunner:
        app = web.Application()
        app.router.add_post("/hook", self.handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self.port = runner.addresses[0][1]
        return runner


async def hmac_call(
    http: httpx.AsyncClient, node: LocalNode, method: str, path: str, body: object
) -> httpx.Response:
    """A request signed with the access key."""
    content = json.dumps(body).encode() if body is not None else b""
    host = urlsplit(node.endpoint).netloc
    headers = authorization_header(
        node.access_key, method, path, formatdate(usegmt=True), host, content
    )
    headers["Content-Type"] = "application/json"
    return await http.request(
        method, node.endpoint + path, content=content, headers=headers
    )


async def run(node: LocalNode, messages: int, senders: int) -> None:
    receiver = Receiver()
    runner = await receiver.start()
    verify = ssl.create_default_context(cafile=str(node.ca))
    async with httpx.AsyncClient(verify=verify, timeout=30) as http:
        # A subscription, a user and a thread
        path = "/eventSubscriptions/bench?api-version=2026-12-01"
        body = {"targetUrl": f"http://127.0.0.1:{receiver.port}/hook"}
        body["eventTypes"] = [IN_THREAD]  # type: ignore[assignment]
        (await hmac_call(http, node, "PUT", path, body)).raise_for_status()
        while True:
            state = (await hmac_call(http, node, "GET", path, None)).json()["state"]
            if state == "active":
                break
            await asyncio.sleep(0.05)
        created = await hmac_call(
            http,
            node,
            "POST",
            "/identities?api-version=2023-10-01",
            {"createTokenWithScopes": ["chat"]},
        )
        token = created.json()["accessToken"]["token"]
        auth = {"Authorization": f"Bearer {token}"}
        thread = await http.post(
            f"{node.endpoint}/chat/threads?api-version=2024-03-07",
            json={"topic": "bench"},
            headers=auth,
        )
        thread_id = quote(thread.json()["chatThread"]["id"], safe="")
        url = (
            f"{node.endpoint}/chat/threads/{thread_id}/messages?api-version=2024-03-07"
        )

        # Send, noting when each request began
        sent: dict[str, float] = {}
        queue: asyncio.Queue[int] = asyncio.Queue()
        for n in range(messages):
            queue.put_nowait(n)

        async def sender() -> None:
            while not queue.empty():
                n = queue.get_nowait()
                began = time.perf_counter()
                answer = await http.post(
                    url, json={"content": f"m{n}", "type": "text"}, headers=auth
                )
                sent[answer.json()["id"]] = began

        first = time.perf_counter()
        await asyncio.gather(*(sender() for _ in range(senders)))
        sending = time.perf_counter() - first
        while len(receiver.arrived) < len(sent):
            await asyncio.sleep(0.01)
        elapsed = max(receiver.arrived.values()) - first

    await runner.cleanup()
    delays = sorted(receiver.arrived[m] - sent[m] for m in sent)
    cuts = statistics.quantiles(delays, n=100, method="inclusive")
    print(f"messages sent: {len(sent)} in {sending:.2f} s by {senders} senders")
    print(f"deliveries: {receiver.deliveries} (first attempts and repeats)")
    print(f"deliveries per second: {len(sent) / elapsed:.0f}")
    print(
        f"request-to-delivery delay: p50 {cuts[49] * 1000:.1f} ms, "
        f"p99 {cuts[98] * 1000:.1f} ms, mean {statistics.mean(delays) * 1000:.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--senders", type=int, default=8)
    parser.add_argument("--database", help="database URL for the node started here")
    args = parser.parse_args()
    print(f"python {platform.python_version()}, {os.cpu_count()} CPUs shared by all")
    env = {"SWITCHBOARD_EVENTS_ALLOWED_TARGETS": "127.0.0.0/8"}
    with local_node(args.database, env) as node:
        asyncio.run(run(node, args.messages, args.senders))


if __name__ == "__main__":
    main()
