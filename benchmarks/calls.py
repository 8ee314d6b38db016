"""Concurrent calls through one node's embedded Janus: receive loss and Janus CPU.

Starts one `switchboard serve` with its embedded Janus inside a network
namespace of its own (it runs itself again under scripts/netns when
SWITCHBOARD_TEST_NETNS is unset), then ramps up group calls of Python
participants (aiortc; each sends a 440 Hz tone and, unless --no-video, a moving
320x240 pattern at 30 frames a second): first calls of 2, then calls of 4. The
participants live in worker processes (--workers, 2 by default), a call's
members together, calls spread over the workers in turn. One call is added per
step; each step waits until every member hears (and sees) every other, then
measures for --measure-s seconds:

- receive loss: RTP packets lost (sequence gaps) against packets received, over
  every subscription of every participant (aiortc getStats);
- audio rate: audio packets received per forwarded audio stream per second,
  which falls below Opus's 50 when the senders here fall behind;
- Janus CPU: the Janus process's CPU seconds per forwarded stream per second
  (a forwarded stream is one audio or video track reaching one subscriber);
- the participants' own CPU: the busiest worker's share of one core. Every
  participant encodes and decodes in Python, so on a small machine this is
  what runs out first.

A ramp stops when loss exceeds 1%, when the participants run out of CPU (a
worker above 90% of a core, or the audio rate below 40), or at --max-calls.
Prints one line per step and, per call size, how many concurrent calls the node
carried with loss at or under 1%.

    .venv/bin/python benchmarks/calls.py
    .venv/bin/python benchmarks/calls.py --sizes 2,4 --max-calls 8 --measure-s 10
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import platform
import ssl
import sys
import time
import uuid
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from local_node import LocalNode, local_node

from switchboard.client import RealtimeClient
from switchboard.client.admin import IdentityAdmin
from switchboard.client.calling import CallParticipant

ROOT = Path(__file__).resolve().parent.parent
LOSS_LIMIT = 0.01
"""Receive loss above which a step counts as more than the node carries."""
WORKER_CPU_LIMIT = 0.9
"""A worker's share of one core above which its participants are out of CPU."""
AUDIO_RATE = 50
"""Opus packets a second of one audio feed (20 ms frames)."""
AUDIO_RATE_LIMIT = 0.8
"""Share of AUDIO_RATE below which the senders here have fallen behind (the
windows of the workers' counts differ by a few hundred ms, hence the margin)."""
FLOW_TIMEOUT_S = 60.0


# The worker processes


def flowing(member: CallParticipant, size: int, video: bool) -> bool:
    """`member` hears (and, with video, sees) every other member of its call."""
    others = set(member.subscribed().values())
    if len(others) != size - 1:
        return False
    if not all(member.audio_stats(other).samples > 0 for other in others):
        return False
    return not video or all(member.video_frames(other) > 0 for other in others)


async def start_call(
    endpoint: str, tls: ssl.SSLContext, tokens: list[str], video: bool
) -> list[CallParticipant]:
    """Join every token's participant to one new group call; wait for media."""
    group = str(uuid.uuid4())
    members = []
    for token in tokens:
        member = CallParticipant(
            endpoint,
            token,
            tone_hz=440.0,
            video=video,
            realtime=RealtimeClient(endpoint, token, ssl_context=tls),
            ice_servers=[],
        )
        await member.join(group_id=group)
        members.append(member)
    deadline = time.monotonic() + FLOW_TIMEOUT_S
    while not all(flowing(m, len(tokens), video) for m in members):
        if time.monotonic() > deadline:
            seen = [(len(m.subscribed()), m.audio_stats().samples) for m in members]
            raise RuntimeError(
                f"media did not flow in a call of {len(tokens)} within "
                f"{FLOW_TIMEOUT_S:.0f} s (feeds and audio samples per member: {seen})"
            )
        await asyncio.sleep(0.2)
    return members


async def serve_commands(conn: Connection, endpoint: str, ca: str) -> None:
    """Carry out the main process's commands until told to stop."""
    tls = ssl.create_default_context(cafile=ca)
    loop = asyncio.get_running_loop()
    members: list[CallParticipant] = []
    try:
        while True:
            command, *args = await loop.run_in_executor(None, conn.recv)
            if command == "call":
                tokens, video = args
                try:
                    members += await start_call(endpoint, tls, tokens, video)
                    conn.send(("ok",))
                except Exception as exc:
                    conn.send(("error", str(exc)))
            elif command == "totals":
                received = lost = audio = 0
                for member in members:
                    stats = await member.receive_stats()
                    received += stats.packets_received
                    lost += stats.packets_lost
                    audio += stats.audio_packets_received
                conn.send(("ok", received, lost, audio))
            elif command == "hang up":
                for member in members:
                    await member.close()
                members.clear()
                conn.send(("ok",))
            else:
                break
    finally:
        for member in members:
            await member.close()


def worker_main(conn: Connection, endpoint: str, ca: str) -> None:
    """A worker process: an event loop of its own for its participants."""
    asyncio.run(serve_commands(conn, endpoint, ca))


class Worker:
    """One worker process and the pipe to it."""

    def __init__(self, endpoint: str, ca: str) -> None:
        # Spawned, not forked: the parent runs an event loop and threads.
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        self.process = context.Process(
            target=worker_main, args=(child, endpoint, ca), daemon=True
        )
        self.process.start()

    async def ask(self, *command: Any) -> tuple[Any, ...]:
        """Send one command and wait for its answer without blocking the loop."""
        self.conn.send(command)
        answer: tuple[Any, ...] = await asyncio.get_running_loop().run_in_executor(
            None, self.conn.recv
        )
        if answer[0] != "ok":
            raise SystemExit(f"a worker failed: {answer[1]}")
        return answer[1:]

    def stop(self) -> None:
        """Tell the worker to close its participants and end."""
        self.conn.send(("stop",))
        self.process.join(timeout=30)
        if self.process.is_alive():
            self.process.kill()


# The main process


@dataclass(frozen=True, slots=True)
class Step:
    """What one measuring window saw."""

    size: int
    calls: int
    forwarded: int
    audio_streams: int
    received: int
    lost: int
    audio_received: int
    janus_cpu_s: float
    worker_cpu_s: float
    window_s: float

    @property
    def loss(self) -> float:
        """Lost packets as a share of all packets expected."""
        expected = self.received + self.lost
        return self.lost / expected if expected else 0.0

    @property
    def audio_rate(self) -> float:
        """Audio packets received per forwarded audio stream per second."""
        if not self.audio_streams:
            return 0.0
        return self.audio_received / self.audio_streams / self.window_s

    @property
    def janus_per_stream(self) -> float:
        """Janus CPU seconds per forwarded stream per second."""
        if not self.forwarded:
            return 0.0
        return self.janus_cpu_s / self.forwarded / self.window_s

    @property
    def worker_share(self) -> float:
        """The busiest worker's CPU as a share of one core."""
        return self.worker_cpu_s / self.window_s


def janus_pid(node: LocalNode) -> int:
    """The process id of the Janus the node started (its config is in the data dir)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv[0].endswith(b"janus") and str(node.data_dir).encode() in (
            b" ".join(argv)
        ):
            return int(entry.name)
    raise SystemExit(f"no Janus runs for the node in {node.data_dir}: see serve.log")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds of one process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Ramp:
    """Adds calls one at a time over the workers and measures each step."""

    def __init__(self, node: LocalNode, args: argparse.Namespace) -> None:
        self.node = node
        self.args = args
        tls = ssl.create_default_context(cafile=str(node.ca))
        self.admin = IdentityAdmin(node.connection_string, verify=tls)
        self.janus = janus_pid(node)
        self.workers = [
            Worker(node.endpoint, str(node.ca)) for _ in range(args.workers)
        ]
        self.participant_bound = False

    async def totals(self) -> tuple[int, int, int]:
        """Packets received, lost, and audio packets received, over everyone."""
        received = lost = audio = 0
        for worker in self.workers:
            r, lo, a = await worker.ask("totals")
            received, lost, audio = received + r, lost + lo, audio + a
        return received, lost, audio

    async def measure(self, size: int, calls: int) -> Step:
        """One measuring window over every call running now."""
        pids = [w.process.pid or 0 for w in self.workers]
        received0, lost0, audio0 = await self.totals()
        workers0 = [cpu_seconds(pid) for pid in pids]
        janus0, t0 = cpu_seconds(self.janus), time.monotonic()
        await asyncio.sleep(self.args.measure_s)
        received1, lost1, audio1 = await self.totals()
        workers1 = [cpu_seconds(pid) for pid in pids]
        janus1, t1 = cpu_seconds(self.janus), time.monotonic()
        audio_streams = calls * size * (size - 1)
        return Step(
            size=size,
            calls=calls,
            forwarded=audio_streams * (1 if self.args.no_video else 2),
            audio_streams=audio_streams,
            received=received1 - received0,
            lost=lost1 - lost0,
            audio_received=audio1 - audio0,
            janus_cpu_s=janus1 - janus0,
            worker_cpu_s=max(b - a for a, b in zip(workers0, workers1, strict=True)),
            window_s=t1 - t0,
        )

    async def run(self, size: int) -> int:
        """Ramp calls of `size`; the most calls carried with loss at or under 1%."""
        carried = 0
        try:
            for calls in range(1, self.args.max_calls + 1):
                tokens = [
                    (await self.admin.create_user_and_token(("voip",))).token
                    for _ in range(size)
                ]
                worker = self.workers[(calls - 1) % len(self.workers)]
                await worker.ask("call", tokens, not self.args.no_video)
                step = await self.measure(size, calls)
                print(
                    f"{size}-party x {calls:2d}: {step.forwarded:3d} forwarded, "
                    f"loss {step.loss:6.2%} ({step.lost}/{step.received + step.lost}), "
                    f"audio {step.audio_rate:4.1f}/{AUDIO_RATE} pkt/s per stream, "
                    f"Janus {step.janus_per_stream * 1000:5.2f} ms CPU per stream-s, "
                    f"busiest worker {step.worker_share:4.0%} of a core",
                    flush=True,
                )
                if step.loss > LOSS_LIMIT:
                    break
                carried = calls
                behind = step.audio_rate < AUDIO_RATE * AUDIO_RATE_LIMIT
                if behind or step.worker_share > WORKER_CPU_LIMIT:
                    print(
                        "  stopped: the Python participants are out of CPU (their "
                        "senders fall behind), so the node was not the limit at "
                        f"{calls} calls",
                        flush=True,
                    )
                    self.participant_bound = True
                    break
        finally:
            for worker in self.workers:
                await worker.ask("hang up")
        return carried

    def stop(self) -> None:
        """End the worker processes."""
        for worker in self.workers:
            worker.stop()


async def bench(node: LocalNode, args: argparse.Namespace) -> None:
    """Ramp every call size in turn and print a summary."""
    ramp = Ramp(node, args)
    carried: dict[int, int] = {}
    try:
        async with ramp.admin:
            for size in args.sizes:
                carried[size] = await ramp.run(size)
                await asyncio.sleep(2)
    finally:
        ramp.stop()
    print()
    for size, count in carried.items():
        print(f"{size}-party calls carried with loss <= 1%: {count}")
    if ramp.participant_bound:
        print("(at least: the participants ran out of CPU before the node showed loss)")
    print(
        f"\nThe participants run in {args.workers} worker process(es) on this "
        f"machine's {os.cpu_count()} CPUs ({platform.machine()}), beside the node "
        "and Janus. aiortc encodes and decodes every stream in Python, so on a "
        "small machine the participants, not Janus, run out of CPU first; the "
        "Janus CPU column is the number to extrapolate from."
    )


def main() -> None:
    """Parse the arguments, enter a namespace, start the node, run the ramps."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sizes", default="2,4", help="call sizes to ramp, in order")
    parser.add_argument("--max-calls", type=int, default=8)
    parser.add_argument("--measure-s", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-video", action="store_true", help="audio only")
    args = parser.parse_args()
    args.sizes = [int(size) for size in args.sizes.split(",")]

    if not os.environ.get("SWITCHBOARD_TEST_NETNS"):
        # Janus gathers no candidates on loopback: run in a namespace of our own.
        netns = str(ROOT / "scripts" / "netns")
        os.execv(netns, [netns, sys.executable, *sys.argv])
    address = os.environ["SWITCHBOARD_TEST_NETNS"]
    env = {
        "SWITCHBOARD_MEDIA_EMBEDDED": "on",
        "SWITCHBOARD_MEDIA_API_HOST": address,
        "SWITCHBOARD_MEDIA_ICE_ADDRESSES": address,
    }
    with local_node(env=env) as node:
        asyncio.run(bench(node, args))


if __name__ == "__main__":
    main()
