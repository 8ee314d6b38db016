"""A small SMSC for tests, built on smpplib's PDU classes rather than our codec.

It listens on 127.0.0.1 port 0, takes one ESME connection at a time and can be
told to refuse binds, throttle, drop the link in the middle of a burst, send
delivery receipts and send incoming (concatenated) SMS.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import smpplib.consts
import smpplib.gsm
import smpplib.smpp

ROK = smpplib.consts.SMPP_ESME_ROK
RBINDFAIL = smpplib.consts.SMPP_ESME_RBINDFAIL
RTHROTTLED = smpplib.consts.SMPP_ESME_RTHROTTLED
# esm_class message type "SMSC delivery receipt" (SMPP 3.4 §5.2.12).
SMSC_DELIVERY_RECEIPT = 0x04


class _Sequence:
    """The sequence source smpplib's PDU classes ask for."""

    def __init__(self) -> None:
        self.sequence = 0

    def next_sequence(self) -> int:
        self.sequence += 1
        return self.sequence


@dataclass
class Submitted:
    """One submit_sm the SMSC took."""

    message_id: str
    source_addr: str
    source_addr_ton: int
    destination_addr: str
    dest_addr_ton: int
    esm_class: int
    data_coding: int
    registered_delivery: int
    short_message: bytes
    at: float


@dataclass
class TestSmsc:
    """An SMSC peer: records what it is sent and does what the test asks."""

    __test__ = False

    system_id: str = "switchboard"
    password: str = "secret"
    submitted: list[Submitted] = field(default_factory=list)
    binds: list[tuple[str, int]] = field(default_factory=list)
    """(system_id, the status answered) for every bind, in order."""
    received: list[tuple[str, float]] = field(default_factory=list)
    """(command, loop time) of every PDU the ESME sent."""
    answers: dict[int, int] = field(default_factory=dict)
    """deliver_sm sequence -> the status of the ESME's deliver_sm_resp."""
    throttle_next: int = 0
    """Answer this many coming submit_sm with ESME_RTHROTTLED."""
    throttle_after: int | None = None
    """Once this many submit_sm are taken in all, throttle every further one."""
    drop_after: int | None = None
    """Close the link right after taking this many more submit_sm."""
    drop_unanswered: int = 0
    """Take this many coming submit_sm but close the link before answering."""
    auto_receipts: bool = False
    """Send a DELIVRD receipt at once for every message that asks for one."""
    port: int = 0
    _server: asyncio.Server | None = None
    _writer: asyncio.StreamWriter | None = None
    _seq: _Sequence = field(default_factory=_Sequence)
    _waiting: dict[int, asyncio.Future[int]] = field(default_factory=dict)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _next_id: int = 0x1000
    _tasks: set[asyncio.Task[Any]] = field(default_factory=set)

    async def start(self) -> int:
        """Listen on 127.0.0.1, port 0; returns the port."""
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        """Close the listener and the current connection."""
        self.drop()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def drop(self) -> None:
        """Close the current ESME connection, if any."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    async def wait_for(
        self, condition: Callable[[], bool], timeout: float = 10
    ) -> None:
        """Wait until `condition()` holds after something happened."""
        async with asyncio.timeout(timeout):
            while not condition():
                self._changed.clear()
                await self._changed.wait()

    def count(self, command: str) -> int:
        """How many PDUs of this command the ESME sent."""
        return sum(1 for name, _ in self.received if name == command)

    # Sending to the ESME

    async def send_deliver(self, **fields: Any) -> int:
        """Send a deliver_sm and return the status the ESME answered with."""
        writer = self._writer
        assert writer is not None, "no ESME is connected"
        pdu = _make(self._seq, "deliver_sm", self._seq.next_sequence(), **fields)
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._waiting[pdu.sequence] = future
        writer.write(pdu.generate())
        return await asyncio.wait_for(future, 10)

    async def send_receipt(
        self, message_id: str, stat: str, *, tlvs: bool = True, err: str = "000"
    ) -> int:
        """Send a delivery receipt for `message_id` in the Appendix B text format."""
        text = (
            f"id:{message_id} sub:001 dlvrd:{1 if stat == 'DELIVRD' else 0:03d} "
            f"submit date:2501011200 done date:2501011201 stat:{stat} err:{err} "
            "text:"
        )
        states = {"DELIVRD": 2, "EXPIRED": 3, "UNDELIV": 5, "REJECTD": 8}
        extra: dict[str, Any] = {}
        if tlvs:
            extra = {"receipted_message_id": message_id, "message_state": states[stat]}
        return await self.send_deliver(
            source_addr="14255550100",
            destination_addr="14255550199",
            esm_class=SMSC_DELIVERY_RECEIPT,
            short_message=text.encode("ascii"),
            **extra,
        )

    async def send_enquire_link(self) -> None:
        """Probe the ESME."""
        assert self._writer is not None
        pdu = _make(self._seq, "enquire_link", self._seq.next_sequence())
        self._writer.write(pdu.generate())

    # The connection

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        self._writer = writer
        try:
            while not writer.is_closing():
                header = await reader.readexactly(4)
                (length,) = struct.unpack(">I", header)
                data = header + await reader.readexactly(length - 4)
                if writer.is_closing():
                    break
                self._handle(writer, smpplib.smpp.parse_pdu(data, client=self._seq))
                self._changed.set()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
            if self._writer is writer:
                self._writer = None
            self._changed.set()

    def _handle(self, writer: asyncio.StreamWriter, pdu: Any) -> None:
        now = asyncio.get_running_loop().time()
        self.received.append((pdu.command, now))
        seq = pdu.sequence

        if pdu.command == "bind_transceiver":
            ok = (
                pdu.system_id.decode() == self.system_id
                and pdu.password.decode() == self.password
            )
            status = ROK if ok else RBINDFAIL
            self.binds.append((pdu.system_id.decode(), status))
            self._answer(
                writer, "bind_transceiver_resp", seq, status, system_id="TestSMSC"
            )
            if not ok:
                writer.close()
        elif pdu.command == "enquire_link":
            self._answer(writer, "enquire_link_resp", seq, ROK)
        elif pdu.command == "unbind":
            self._answer(writer, "unbind_resp", seq, ROK)
            writer.close()
        elif pdu.command == "deliver_sm_resp":
            future = self._waiting.pop(seq, None)
            if future is not None and not future.done():
                future.set_result(pdu.status)
            self.answers[seq] = pdu.status
        elif pdu.command == "submit_sm":
            self._submit(writer, pdu, now)

    def _submit(self, writer: asyncio.StreamWriter, pdu: Any, now: float) -> None:
        full = self.throttle_after is not None
        if full and len(self.submitted) >= (self.throttle_after or 0):
            self._answer(writer, "submit_sm_resp", pdu.sequence, RTHROTTLED)
            return
        if self.throttle_next > 0:
            self.throttle_next -= 1
            self._answer(writer, "submit_sm_resp", pdu.sequence, RTHROTTLED)
            return

        self._next_id += 1
        message_id = f"{self._next_id:08X}"
        self.submitted.append(
            Submitted(
                message_id=message_id,
                source_addr=pdu.source_addr.decode(),
                source_addr_ton=pdu.source_addr_ton,
                destination_addr=pdu.destination_addr.decode(),
                dest_addr_ton=pdu.dest_addr_ton,
                esm_class=pdu.esm_class,
                data_coding=pdu.data_coding,
                registered_delivery=pdu.registered_delivery,
                short_message=pdu.short_message or b"",
                at=now,
            )
        )
        if self.drop_unanswered > 0:
            self.drop_unanswered -= 1
            writer.close()
            return

        self._answer(writer, "submit_sm_resp", pdu.sequence, ROK, message_id=message_id)
        if self.auto_receipts and pdu.registered_delivery & 0x01:
            task = asyncio.create_task(self.send_receipt(message_id, "DELIVRD"))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        if self.drop_after is not None:
            self.drop_after -= 1
            if self.drop_after <= 0:
                self.drop_after = None
                writer.close()

    def _answer(
        self,
        writer: asyncio.StreamWriter,
        command: str,
        sequence: int,
        status: int,
        **fields: Any,
    ) -> None:
        if writer.is_closing():
            return
        pdu = _make(self._seq, command, sequence, status=status, **fields)
        writer.write(pdu.generate())


def _make(client: _Sequence, command: str, sequence: int, **fields: Any) -> Any:
    pdu = smpplib.smpp.make_pdu(command, client=client, **fields)
    # smpplib ignores a `sequence` argument while its client has a sequence.
    pdu.sequence = sequence
    return pdu


def gsm_decode(septets: bytes) -> str:
    """Decode unpacked GSM 7-bit septets with smpplib's own character table."""
    table = smpplib.gsm.GSM_CHARACTER_TABLE
    out: list[str] = []
    escaped = False
    for septet in septets:
        if escaped:
            out.append(table[0x80 + septet])
            escaped = False
        elif septet == 0x1B:
            escaped = True
        else:
            out.append(table[septet])
    return "".join(out)


def gsm_encode(text: str) -> bytes:
    """Encode text as unpacked GSM 7-bit septets with smpplib."""
    encoded: bytes = smpplib.gsm.gsm_encode(text)
    return encoded


@contextlib.asynccontextmanager
async def running_smsc(**options: Any) -> Any:
    """A started TestSmsc, stopped afterwards."""
    smsc = TestSmsc(**options)
    await smsc.start()
    try:
        yield smsc
    finally:
        await smsc.stop()
