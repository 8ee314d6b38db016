"""Chat fan-out through the realtime gateway: delivered messages per second, latency.

Starts one `switchboard serve` on free ports in a temporary data dir, creates
the users (1,000 by default) and puts them in threads of 100, connects every user
with one WebSocket from worker processes (2 by default), then has one member of
each thread send messages over the chat REST API (HTTPS, Bearer token) as fast as
each thread's sender gets answers. Each message carries its send time; every
receiver notes when it arrived. Prints delivered messages per second and the
p50/p99 send-to-receive latency.

    .venv/bin/python benchmarks/chat_fanout.py
    .venv/bin/python benchmarks/chat_fanout.py --users 1000 --thread-size 100 \\
        --messages 20 --workers 2

The server, the workers and the senders share this machine's CPUs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import platform
import ssl
import statistics
import time
from multiprocessing.queues import Queue
from pathlib import Path
from typing import Any

from local_node import local_node
from websockets.asyncio.client import connect

from switchboard.client import ChatClient
from switchboard.client.admin import IdentityAdmin

RESULT_TIMEOUT_S = 300.0


# The worker processes


async def receive(
    url: str, token: str, expected: int, connected: asyncio.Event, out: list[float]
) -> None:
    """One client: authenticate, then note each message's latency until done."""
    async with connect(url, proxy=None, max_size=2**22, open_timeout=60) as ws:
        await ws.send(json.dumps({"type": "auth", "token": token}))
        ready = json.loads(await ws.recv())
        if ready.get("type") != "ready":
            raise RuntimeError(f"not accepted: {ready}")
        connected.set()
        got = 0
        while got < expected:
            frame = json.loads(await ws.recv())
            if frame["type"] == "ping":
                await ws.send('{"type":"pong"}')
                continue
            if frame["type"] != "event" or frame["event"] != "chatMessageReceived":
                continue
            sent_at = float(frame["data"]["message"].split(" ", 1)[0])
            out.append(time.time() - sent_at)
            got += 1


async def worker_main_async(
    url: str, tokens: list[str], expected: int, results: Queue[Any]
) -> None:
    """Connect every client of this worker, say so, and report what arrived."""
    latencies: list[float] = []
    events = [asyncio.Event() for _ in tokens]
    tasks = []
    for token, connected in zip(tokens, events, strict=True):
        tasks.append(
            asyncio.create_task(receive(url, token, expected, connected, latencies))
        )
        # Connecting in small steps keeps the accept queue and the node calm.
        if len(tasks) % 50 == 0:
            await asyncio.gather(*(e.wait() for e in events[: len(tasks)]))
    await asyncio.gather(*(e.wait() for e in events))
    results.put(("ready", len(tokens)))
    done, pending = await asyncio.wait(tasks, timeout=RESULT_TIMEOUT_S)
    for task in pending:
        task.cancel()
    failures = sum(1 for t in done if t.exception() is not None)
    results.put(("done", latencies, failures, len(pending), time.time()))


def worker_main(
    url: str, tokens: list[str], expected: int, results: Queue[Any]
) -> None:
    """Entry point of a worker process."""
    asyncio.run(worker_main_async(url, tokens, expected, results))


# The driver


async def setup(
    connection_string: str, ca: Path, users: int, size: int
) -> tuple[list[str], list[tuple[str, str]]]:
    """Users with tokens, and per thread its id and its sender's token."""
    verify = ssl.create_default_context(cafile=str(ca))
    async with IdentityAdmin(connection_string, verify=verify) as admin:
        issued = []
        for start in range(0, users, 50):
            batch = [
                admin.create_user_and_token(("chat",))
                for _ in range(min(50, users - start))
            ]
            issued.extend(await asyncio.gather(*batch))
    endpoint = connection_string.split(";")[0].removeprefix("endpoint=").rstrip("/")
    threads = []
    for start in range(0, users, size):
        members = issued[start : start + size]
        async with ChatClient(endpoint, members[0].token, verify=verify) as chat:
            thread = await chat.create_thread(
                "fan-out", [m.user_id for m in members[1:]]
            )
        threads.append((thread, members[0].token))
    return [u.token for u in issued], threads


async def send_all(
    endpoint: str, ca: Path, threads: list[tuple[str, str]], messages: int
) -> tuple[float, float]:
    """Each thread's sender sends one message after another; threads side by side."""
    verify = ssl.create_default_context(cafile=str(ca))

    async def one_thread(thread: str, token: str) -> None:
        async with ChatClient(endpoint, token, verify=verify) as chat:
            for n in range(messages):
                await chat.send_message(thread, f"{time.time():.6f} message {n}")

    started = time.time()
    await asyncio.gather(*(one_thread(t, token) for t, token in threads))
    return started, time.time()


def percentile(values: list[float], fraction: float) -> float:
    """The value below which `fraction` of the sorted values fall."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))
    return ordered[index]


def main() -> None:
    """Run the benchmark once and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--thread-size", type=int, default=100)
    parser.add_argument("--messages", type=int, default=20, help="per thread")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    if args.users % args.thread_size:
        parser.error("--users must be a multiple of --thread-size")

    with local_node() as node:
        connection_string, http_port, ca = (
            node.connection_string,
            node.http_port,
            node.ca,
        )
        endpoint = connection_string.split(";")[0].removeprefix("endpoint=")
        tokens, threads = asyncio.run(
            setup(connection_string, ca, args.users, args.thread_size)
        )
        print(
            f"{args.users} users in {len(threads)} threads of {args.thread_size}; "
            f"connecting from {args.workers} worker processes",
            flush=True,
        )

        # Connect everyone
        context = multiprocessing.get_context("spawn")
        results: Queue[Any] = context.Queue()
        url = f"ws://127.0.0.1:{http_port}/switchboard/v1/realtime"
        share = -(-len(tokens) // args.workers)
        workers = [
            context.Process(
                target=worker_main,
                args=(url, tokens[i : i + share], args.messages, results),
            )
            for i in range(0, len(tokens), share)
        ]
        for process in workers:
            process.start()
        for _ in workers:
            kind, _count = results.get(timeout=RESULT_TIMEOUT_S)
            assert kind == "ready"

        # Send, then collect what every receiver saw
        started, sent = asyncio.run(send_all(endpoint, ca, threads, args.messages))
        latencies: list[float] = []
        failures = missing = 0
        finished = started
        for _ in workers:
            kind, got, failed, pending, last = results.get(timeout=RESULT_TIMEOUT_S)
            assert kind == "done"
            latencies.extend(got)
            failures += failed
            missing += pending
            finished = max(finished, last)
        for process in workers:
            process.join(timeout=30)

    expected = args.users * args.messages
    elapsed = finished - started
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs"
    )
    print(
        f"messages sent: {len(threads) * args.messages} in {sent - started:.2f} s; "
        f"deliveries: {len(latencies)} of {expected} "
        f"(clients failed: {failures}, unfinished: {missing})"
    )
    print(f"delivered messages per second: {len(latencies) / elapsed:,.0f}")
    print(
        "send-to-receive latency: "
        f"p50 {percentile(latencies, 0.50) * 1000:.1f} ms, "
        f"p99 {percentile(latencies, 0.99) * 1000:.1f} ms, "
        f"mean {statistics.fmean(latencies) * 1000:.1f} ms"
    )


if __name__ == "__main__":
    main()
