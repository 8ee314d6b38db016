"""Supervises the embedded Janus: starts it, restarts it with backoff, stops it."""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import shutil
import socket
import time
from pathlib import Path

from switchboard.media.janus_config import JanusOptions, write_config

log = logging.getLogger(__name__)

RESTART_MIN_S = 0.5
"""Wait before the first restart; it doubles up to the configured maximum."""

HEALTHY_S = 30.0
"""A Janus that ran this long before dying restarts after the shortest wait."""

STOP_GRACE_S = 5.0
"""How long Janus has to exit after SIGTERM before it is killed."""


def free_port(host: str) -> int:
    """A TCP port nothing listens on at `host` now."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def command(binary: str, folder: Path) -> list[str]:
    """The command line of Janus, killed by the kernel when the node dies."""
    argv = [binary, "-F", str(folder.resolve())]
    # util-linux's setpriv sets prctl(2) PR_SET_PDEATHSIG and execs Janus, which
    # keeps it: a node that crashes leaves no Janus holding its ports.
    setpriv = shutil.which("setpriv")
    if setpriv is not None:
        argv = [setpriv, "--pdeathsig", "KILL", "--", *argv]
    return argv


class ProcessState(enum.StrEnum):
    """Where the supervised Janus is in its life."""

    STOPPED = "stopped"
    RUNNING = "running"
    BACKOFF = "backoff"
    """It died; a restart is scheduled."""
    STOPPING = "stopping"


_TRANSITIONS = {
    ProcessState.STOPPED: {ProcessState.RUNNING},
    ProcessState.RUNNING: {ProcessState.BACKOFF, ProcessState.STOPPING},
    ProcessState.BACKOFF: {ProcessState.RUNNING, ProcessState.STOPPING},
    ProcessState.STOPPING: {ProcessState.STOPPED},
}


class JanusProcess:
    """One embedded Janus run from a generated folder, restarted when it dies."""

    def __init__(
        self,
        binary: str,
        options: JanusOptions,
        folder: Path,
        restart_max_s: float = 30.0,
    ) -> None:
        self.binary = binary
        self.options = options
        self.folder = folder
        self.log_path = folder / "janus.log"
        self.restart_max_s = restart_max_s
        self.state = ProcessState.STOPPED
        self.restarts = 0
        self._proc: asyncio.subprocess.Process | None = None
        self._supervisor: asyncio.Task[None] | None = None

    def _transition(self, new: ProcessState) -> None:
        if new not in _TRANSITIONS[self.state]:
            moves = ", ".join(sorted(_TRANSITIONS[self.state]))
            raise RuntimeError(
                f"embedded janus: expected {moves} after {self.state}, got {new}"
            )
        log.info("embedded janus: %s -> %s", self.state, new)
        self.state = new

    @property
    def pid(self) -> int | None:
        """The process id of the running Janus, if one runs."""
        return None if self._proc is None else self._proc.pid

    async def start(self) -> None:
        """Write the configuration and start Janus; returns once it was spawned."""
        write_config(self.options, self.folder)
        await self._spawn()
        self._supervisor = asyncio.create_task(self._supervise())

    async def _spawn(self) -> None:
        with self.log_path.open("ab") as out:
            self._proc = await asyncio.create_subprocess_exec(
                *command(self.binary, self.folder),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out,
                stderr=asyncio.subprocess.STDOUT,
            )
        self._transition(ProcessState.RUNNING)
        log.info(
            "embedded janus started (pid %d, api %s, log %s)",
            self._proc.pid,
            self.options.url,
            self.log_path,
        )

    async def _supervise(self) -> None:
        wait = RESTART_MIN_S
        while True:
            proc = self._proc
            assert proc is not None
            started = time.monotonic()
            code = await proc.wait()
            if self.state is not ProcessState.RUNNING:
                return
            if time.monotonic() - started >= HEALTHY_S:
                wait = RESTART_MIN_S
            log.warning(
                "embedded janus (pid %d) exited with %d; restarting in %.1f s (see %s)",
                proc.pid,
                code,
                wait,
                self.log_path,
            )
            self._transition(ProcessState.BACKOFF)
            while True:
                await asyncio.sleep(wait)
                wait = min(wait * 2, self.restart_max_s)
                try:
                    await self._spawn()
                    break
                except OSError as exc:
                    log.error("embedded janus could not be restarted: %s", exc)
            self.restarts += 1

    async def stop(self) -> None:
        """Stop Janus (SIGTERM, then SIGKILL) and its supervision."""
        if self.state is ProcessState.STOPPED:
            return
        self._transition(ProcessState.STOPPING)
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
        proc = self._proc
        if proc is not None and proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), STOP_GRACE_S)
            except TimeoutError:
                log.warning("embedded janus ignored SIGTERM; killing it")
                proc.kill()
                await proc.wait()
        self._transition(ProcessState.STOPPED)
