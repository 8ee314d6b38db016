"""One ESME transceiver session over one TCP connection (SMPP 3.4 §2.2-§2.9).

The session binds, matches responses to requests by sequence number within a
window of outstanding requests, keeps the link alive with enquire_link, answers
what the SMSC asks (enquire_link, unbind, deliver_sm) and unbinds on request.
It knows nothing of messages or numbers: the carrier builds the PDUs.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import TypeVar

from switchboard.telephony.smpp.pdu import (
    MAX_SEQUENCE,
    BindTransceiver,
    BindTransceiverResp,
    CommandStatus,
    DeliverSm,
    DeliverSmResp,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    Pdu,
    PduError,
    Unbind,
    UnbindResp,
    command_length,
    parse_pdu,
    status_name,
)

logger = logging.getLogger(__name__)

DeliverHandler = Callable[[DeliverSm], Awaitable[int]]
"""Handles a deliver_sm and returns the command status to answer it with."""

_P = TypeVar("_P", bound=Pdu)


class SessionState(enum.Enum):
    """ESME session states (SMPP 3.4 §2.2; UNBOUND as SMPP 5.0 §2.3 names it)."""

    OPEN = "OPEN"
    BOUND_TRX = "BOUND_TRX"
    UNBOUND = "UNBOUND"
    CLOSED = "CLOSED"


_MOVES: dict[SessionState, frozenset[SessionState]] = {
    SessionState.OPEN: frozenset({SessionState.BOUND_TRX, SessionState.CLOSED}),
    SessionState.BOUND_TRX: frozenset({SessionState.UNBOUND, SessionState.CLOSED}),
    SessionState.UNBOUND: frozenset({SessionState.CLOSED}),
    SessionState.CLOSED: frozenset(),
}


class SessionError(Exception):
    """A request could not be completed on this session."""


class LinkClosed(SessionError):
    """The link closed (or was never bound) before the response arrived."""


class RequestTimeout(SessionError):
    """No response arrived within the response timeout."""


class BindRefused(SessionError):
    """The SMSC answered the bind with an error status."""

    def __init__(self, status: int) -> None:
        super().__init__(f"bind refused by the SMSC: {status_name(status)}")
        self.status = status


class EsmeSession:
    """The ESME side of one SMPP 3.4 transceiver session."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        link: str,
        window: int,
        response_timeout_s: float,
        enquire_interval_s: float,
        on_deliver: DeliverHandler,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._link = link
        self._window = asyncio.Semaphore(window)
        self._response_timeout_s = response_timeout_s
        self._enquire_interval_s = enquire_interval_s
        self._on_deliver = on_deliver
        self._state = SessionState.OPEN
        self._sequence = 0
        self._pending: dict[int, asyncio.Future[Pdu]] = {}
        self._write_lock = asyncio.Lock()
        self._deliveries: asyncio.Queue[DeliverSm] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._closed = asyncio.Event()

    @property
    def state(self) -> SessionState:
        """Where the session is in its life."""
        return self._state

    def _move(self, new: SessionState) -> None:
        old = self._state
        if old is new:
            return
        if new not in _MOVES[old]:
            raise RuntimeError(f"SMPP session: expected a move from {old.name}")
        self._state = new
        logger.info("smpp link %s: %s -> %s", self._link, old.name, new.name)

    # Binding and unbinding

    async def bind(
        self, *, system_id: str, password: str, system_type: str, timeout_s: float
    ) -> BindTransceiverResp:
        """Bind as a transceiver (SMPP 3.4 §4.1.5); raises BindRefused or LinkClosed."""
        self._tasks.append(asyncio.create_task(self._read_loop()))
        request = BindTransceiver(
            sequence=0,
            system_id=system_id,
            password=password,
            system_type=system_type,
        )
        try:
            response = await self._exchange(request, BindTransceiverResp, timeout_s)
        except RequestTimeout:
            await self.close()
            raise LinkClosed(f"no bind_transceiver_resp within {timeout_s} s") from None
        if response.status != CommandStatus.ESME_ROK:
            await self.close()
            raise BindRefused(response.status)

        self._move(SessionState.BOUND_TRX)
        self._tasks.append(asyncio.create_task(self._deliver_loop()))
        self._tasks.append(asyncio.create_task(self._enquire_loop()))
        return response

    async def unbind(self, timeout_s: float) -> None:
        """Unbind (SMPP 3.4 §4.2) and close, waiting at most `timeout_s`."""
        if self._state is not SessionState.BOUND_TRX:
            await self.close()
            return

        self._move(SessionState.UNBOUND)
        with contextlib.suppress(SessionError):
            await self._exchange(Unbind(sequence=0), UnbindResp, timeout_s)
        await self.close()

    async def close(self) -> None:
        """Drop the connection; outstanding requests fail with LinkClosed."""
        if self._state is SessionState.CLOSED:
            return

        self._move(SessionState.CLOSED)
        for future in self._pending.values():
            if not future.done():
                future.set_exception(LinkClosed("the SMPP link closed"))
        self._pending.clear()
        self._writer.close()
        self._closed.set()

        current = asyncio.current_task()
        others = [task for task in self._tasks if task is not current]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)
        with contextlib.suppress(ConnectionError):
            await self._writer.wait_closed()

    async def wait_closed(self) -> None:
        """Return once the session has closed, for whatever reason."""
        await self._closed.wait()

    # Requests

    async def request(self, pdu: Pdu, response: type[_P]) -> _P:
        """Send `pdu` with the next sequence number and return its response.

        The response is of type `response` or a generic_nack; its status is not
        checked here. Raises LinkClosed or RequestTimeout.
        """
        async with self._window:
            if self._state is not SessionState.BOUND_TRX:
                raise LinkClosed(f"the SMPP link is {self._state.name}")
            return await self._exchange(pdu, response, self._response_timeout_s)

    async def _exchange(self, pdu: Pdu, response: type[_P], timeout_s: float) -> _P:
        # SMPP 3.4 §5.1.4: sequence numbers run 0x00000001..0x7FFFFFFF.
        self._sequence = self._sequence % MAX_SEQUENCE + 1
        sequence = self._sequence
        future: asyncio.Future[Pdu] = asyncio.get_running_loop().create_future()
        self._pending[sequence] = future
        try:
            await self._send(replace(pdu, sequence=sequence))
            async with asyncio.timeout(timeout_s):
                answer = await future
        except TimeoutError:
            raise RequestTimeout(
                f"no response to {type(pdu).__name__} within {timeout_s} s"
            ) from None
        finally:
            self._pending.pop(sequence, None)

        if isinstance(answer, response):
            return answer
        if isinstance(answer, GenericNack):
            # A generic_nack answers any request: give it the expected type.
            return response(sequence=sequence, status=answer.status)
        raise LinkClosed(f"{type(pdu).__name__} answered with {type(answer).__name__}")

    async def _send(self, pdu: Pdu) -> None:
        if self._state is SessionState.CLOSED:
            raise LinkClosed("the SMPP link closed")
        data = bytes(pdu)
        logger.debug(
            "smpp link %s: -> %s seq=%d status=0x%08X",
            self._link,
            type(pdu).__name__,
            pdu.sequence,
            pdu.status,
        )
        try:
            async with self._write_lock:
                self._writer.write(data)
                await self._writer.drain()
        except (ConnectionError, RuntimeError) as exc:
            await self.close()
            raise LinkClosed(f"the SMPP link closed while sending: {exc}") from exc

    # What the SMSC sends

    async def _read_loop(self) -> None:
        try:
            while True:
                pdu = await self._read_pdu()
                if pdu is not None:
                    await self._dispatch(pdu)
        except (asyncio.IncompleteReadError, ConnectionError):
            logger.warning("smpp link %s: the SMSC closed the connection", self._link)
        except PduError as exc:
            logger.warning("smpp link %s: unframeable data: %s", self._link, exc)
        except LinkClosed:
            pass
        await self.close()

    async def _read_pdu(self) -> Pdu | None:
        header = await self._reader.readexactly(4)
        length = command_length(header)
        data = header + await self._reader.readexactly(length - 4)
        try:
            pdu = parse_pdu(data)
        except PduError as exc:
            logger.warning("smpp link %s: bad PDU: %s", self._link, exc)
            if exc.sequence is not None:
                await self._send(GenericNack(sequence=exc.sequence, status=exc.status))
            return None
        logger.debug(
            "smpp link %s: <- %s seq=%d status=0x%08X",
            self._link,
            type(pdu).__name__,
            pdu.sequence,
            pdu.status,
        )
        return pdu

    async def _dispatch(self, pdu: Pdu) -> None:
        if pdu.is_response:
            future = self._pending.get(pdu.sequence)
            if future is None or future.done():
                logger.warning(
                    "smpp link %s: %s for unknown sequence %d",
                    self._link,
                    type(pdu).__name__,
                    pdu.sequence,
                )
                return
            future.set_result(pdu)
            return

        # SMPP 3.4 §4.11: answer the SMSC's keep-alive.
        if isinstance(pdu, EnquireLink):
            await self._send(EnquireLinkResp(sequence=pdu.sequence))
            return

        # SMPP 3.4 §4.2: the SMSC ends the session.
        if isinstance(pdu, Unbind):
            if self._state is SessionState.BOUND_TRX:
                self._move(SessionState.UNBOUND)
            await self._send(UnbindResp(sequence=pdu.sequence))
            await self.close()
            return

        if isinstance(pdu, DeliverSm):
            if self._state is not SessionState.BOUND_TRX:
                await self._send(
                    DeliverSmResp(
                        sequence=pdu.sequence, status=CommandStatus.ESME_RINVBNDSTS
                    )
                )
                return
            self._deliveries.put_nowait(pdu)
            return

        await self._send(
            GenericNack(sequence=pdu.sequence, status=CommandStatus.ESME_RINVCMDID)
        )

    async def _deliver_loop(self) -> None:
        # One at a time and in order, so that parts of a message stay in order.
        while True:
            pdu = await self._deliveries.get()
            try:
                status = await self._on_deliver(pdu)
            except Exception:
                logger.exception(
                    "smpp link %s: deliver_sm seq=%d not stored",
                    self._link,
                    pdu.sequence,
                )
                status = CommandStatus.ESME_RX_T_APPN
            try:
                await self._send(DeliverSmResp(sequence=pdu.sequence, status=status))
            except LinkClosed:
                return

    async def _enquire_loop(self) -> None:
        # SMPP 3.4 §4.11: probe the link; a silent SMSC means a dead link.
        while True:
            await asyncio.sleep(self._enquire_interval_s)
            try:
                await self.request(EnquireLink(sequence=0), EnquireLinkResp)
            except RequestTimeout:
                logger.warning(
                    "smpp link %s: no enquire_link_resp; closing the link", self._link
                )
                await self.close()
                return
            except LinkClosed:
                return
