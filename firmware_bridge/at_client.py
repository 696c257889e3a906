"""The AT protocol of Edge Impulse firmware, over pyserial (serial-protocol.md).

- Commands end with ``\\r`` only and are written in 5-byte chunks 20 ms apart (the board's UART
  buffer is small; this is what the official host does).
- The board echoes what it receives, then ``\\r\\n``; a command has ended when the prompt
  ``> `` arrives (the ST board prints ``ESC[2K\\r> ``; a bare ``> `` is accepted too). The
  response is what lies between the echo line and the prompt. Device lines end ``\\r\\n``; a
  bare ``\\n`` is accepted.
- ``Not a valid AT command (...)``, ``No handler for AT command (...)``, ``Command not found!``
  and ``Command is too long ...`` are errors (:class:`AtCommandError`).
- Per-command timeouts: 2 s by default, 10 s for CLEARCONFIG/WIFI/SCANWIFI, ``(length + 3000)
  x 10`` ms for sampling. ``b`` aborts a running command (inference loop, sampling); the prompt
  must come back within 5 s. Nothing else is sent while a command runs.
- Connecting: a serial break, then ``b\\r``, then the prompt (a running loop is stopped, an
  idle board answers the stray ``b`` with an error and a prompt); output still arriving after
  it is drained before the first command.

The client never raises on garbage: lines it cannot use are counted in
:attr:`AtClient.garbled` and logged. Operations raise :class:`AtTimeout` (no prompt in time),
:class:`AtCommandError` (the board refused) or :class:`~firmware_bridge.ports.Disconnected`.
"""
from __future__ import annotations

import base64
import binascii
import logging
import math
import re
import time
from dataclasses import dataclass
from typing import Callable, List, Optional, Tuple

from edgert.acquisition import DataAcquisition
from edgert.acquisition.signing import decode_verified
from edgert.errors import AcquisitionFormatError

from .device import DeviceConfig, parse_config
from .inference_output import Event, InferenceOutputParser
from .ports import SerialLink

log = logging.getLogger("firmware_bridge.at")

__all__ = ["AtClient", "AtError", "AtTimeout", "AtCommandError", "AtProtocolError",
           "ImpulseSession", "SampleResult", "LineBuffer"]

DEFAULT_TIMEOUT = 2.0
LONG_TIMEOUT = 10.0
BREAK_TIMEOUT = 5.0
MAX_COMMAND = 255
_LONG_COMMANDS = ("AT+CLEARCONFIG", "AT+WIFI=", "AT+SCANWIFI")
_ERRORS = ("Not a valid AT command", "No handler for AT command", "Command not found!",
           "Command is too long")
_ESC_ERASE = b"\x1b[2K"


class AtError(Exception):
    """Base of the AT client's errors."""


class AtTimeout(AtError):
    """The board did not finish a command (no prompt) in time."""


class AtCommandError(AtError):
    """The board answered with an error."""

    def __init__(self, command: str, message: str):
        super().__init__(f"{command}: {message}")
        self.command = command
        self.message = message


class AtProtocolError(AtError):
    """The answer arrived but is unusable (bad base64, a document that does not decode)."""


class LineBuffer:
    """Bytes from the board -> lines; notices the prompt at the end of the buffer."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> None:
        self._buf += data

    def lines(self) -> List[str]:
        """Complete lines received so far (terminators removed)."""
        buf = self._buf
        end = buf.rfind(b"\n")
        if end < 0:
            return []
        chunk = bytes(buf[:end])
        del buf[:end + 1]
        return [_text(line) for line in chunk.split(b"\n")]

    def take_prompt(self) -> Optional[str]:
        """If the unterminated tail of the buffer is a prompt, consume it and return what
        preceded it on that line (usually ""); else None."""
        buf = self._buf
        if not buf.endswith(b"> "):
            return None
        tail = bytes(buf)
        before = tail[:-2]
        # "ESC[2K CR > ": the terminal erased the line before the prompt
        if before.endswith(b"\r"):
            before = before[:-1]
        if before.endswith(_ESC_ERASE):
            before = before[:-len(_ESC_ERASE)]
        self._buf.clear()
        return _text(before)

    def pending(self) -> bytes:
        return bytes(self._buf)

    def clear(self) -> bytes:
        data = bytes(self._buf)
        self._buf.clear()
        return data


def _text(line: bytes) -> str:
    return line.rstrip(b"\r").decode("utf-8", "replace")


@dataclass
class SampleResult:
    """A finished ``AT+SAMPLESTART``: the log, the document read back, and its check."""

    sensor: str
    filename: Optional[str]
    log: List[str]
    total_samples: Optional[int]
    buffer_range: Optional[Tuple[int, int]]
    data: bytes
    document: DataAcquisition
    #: True/False: the HS256 signature checked against the key; None: nothing to check
    signature_valid: Optional[bool]
    unlinked: bool = False


@dataclass
class _Counters:
    garbled: int = 0
    commands: int = 0
    timeouts: int = 0
    retries: int = 0
    echo_mismatches: int = 0


class AtClient:
    """Talks to one board over a :class:`SerialLink` (see the module docstring)."""

    def __init__(self, link: SerialLink, *, chunk_size: int = 5, chunk_pause: float = 0.02,
                 timeout: float = DEFAULT_TIMEOUT,
                 on_garbled: Optional[Callable[[str], None]] = None):
        self.link = link
        self.chunk_size = chunk_size
        self.chunk_pause = chunk_pause
        self.timeout = timeout
        self.counters = _Counters()
        self.on_garbled = on_garbled
        self.config: Optional[DeviceConfig] = None
        self._lines = LineBuffer()

    @property
    def garbled(self) -> int:
        return self.counters.garbled

    def note_garbled(self, line: str, why: str = "unexpected line") -> None:
        self.counters.garbled += 1
        if self.on_garbled is not None:
            self.on_garbled(f"{why}: {line[:120]!r}")
        else:
            log.warning("%s: %s: %r", self.link.name, why, line[:120])

    # -- wire ---------------------------------------------------------------------------------
    def write_command(self, command: str) -> None:
        """Send ``command`` + CR in paced chunks (nothing is read)."""
        if "\r" in command or "\n" in command:
            raise ValueError("an AT command cannot contain CR or LF")
        if len(command) > MAX_COMMAND:
            raise ValueError(f"AT command longer than {MAX_COMMAND} characters")
        data = command.encode("utf-8") + b"\r"
        for i in range(0, len(data), self.chunk_size):
            if i:
                time.sleep(self.chunk_pause)
            self.link.write(data[i:i + self.chunk_size])

    def _read_until_prompt(self, timeout: float, command: str = "") -> List[str]:
        """Lines up to the prompt (prompt not included)."""
        deadline = time.monotonic() + timeout
        lines: List[str] = []
        buf = self._lines
        while True:
            lines += buf.lines()
            before = buf.take_prompt()
            if before is not None:
                if before:
                    lines.append(before)
                return lines
            if time.monotonic() >= deadline:
                self.counters.timeouts += 1
                got = lines + ([_text(buf.pending())] if buf.pending() else [])
                shown = " | ".join(x for x in got[-3:]) or "nothing"
                raise AtTimeout(f"{self.link.name}: no prompt after {command or 'waiting'} "
                                f"within {timeout:g} s (last output: {shown[:200]})")
            data = self.link.read()
            if data:
                buf.feed(data)

    def drain(self, quiet: float = 0.15, limit: float = 2.0) -> bytes:
        """Read and discard until nothing arrived for ``quiet`` seconds (at most ``limit``)."""
        got = bytearray(self._lines.clear())
        end = time.monotonic() + limit
        last = time.monotonic()
        while time.monotonic() < end:
            data = self.link.read()
            if data:
                got += data
                last = time.monotonic()
            elif time.monotonic() - last >= quiet:
                break
        return bytes(got)

    def discard_stale_output(self) -> None:
        """Before a command: drop what arrived since the last prompt (counted as garbled)."""
        stale = self._lines.clear()
        if stale.strip():
            self.note_garbled(_text(stale), "output between commands")

    # -- commands -----------------------------------------------------------------------------
    def connect(self, timeout: float = BREAK_TIMEOUT) -> None:
        """Bring the board to an idle prompt (see the module docstring)."""
        self._lines.clear()
        self.link.send_break()
        self.link.write(b"b\r")
        try:
            self._read_until_prompt(timeout, "b (connect)")
        except AtTimeout:
            # a board busy printing, or one that dropped the first byte: one more CR
            self.link.write(b"\r")
            self._read_until_prompt(2.0, "CR (connect)")
        self.drain()

    def command(self, command: str, timeout: Optional[float] = None) -> List[str]:
        """Run one command; returns its response lines (echo and prompt removed)."""
        if timeout is None:
            timeout = LONG_TIMEOUT if command.startswith(_LONG_COMMANDS) else self.timeout
        self.discard_stale_output()
        self.counters.commands += 1
        self.write_command(command)
        lines = self._read_until_prompt(timeout, command)
        if not lines:
            raise AtProtocolError(f"{command}: the board returned a prompt without echo")
        echo, response = lines[0], lines[1:]
        if echo.strip() != command:
            self.counters.echo_mismatches += 1
            # the echo arrives garbled when the line was damaged on the wire; if the board
            # itself misread the command its answer says so (an error is raised below)
            self.note_garbled(echo, f"echo of {command!r} differs")
        for line in response[:1]:
            if line.startswith(_ERRORS):
                raise AtCommandError(command, line)
        return response

    def read_config(self, retries: int = 2) -> DeviceConfig:
        """``AT+CONFIG?`` as a :class:`DeviceConfig` (retried when the ID came garbled)."""
        cfg = None
        for attempt in range(retries + 1):
            cfg = parse_config(self.command("AT+CONFIG?"))
            for line in cfg.unparsed:
                self.note_garbled(line, "AT+CONFIG? line")
            if cfg.device_id and cfg.device_type and cfg.at_version:
                break
            self.counters.retries += 1
        self.config = cfg
        return cfg  # type: ignore[return-value]

    def set_sample_settings(self, label: str, interval_ms: float, length_ms: int,
                            hmac_key: Optional[str] = None) -> None:
        for name, value in (("label", label), ("HMAC key", hmac_key or "")):
            if "," in value or "\r" in value or "\n" in value:
                raise ValueError(f"the {name} cannot contain ',' or line breaks (the AT "
                                 f"protocol has no escaping): {value!r}")
        if len(label) > 127:
            raise ValueError("the label is longer than the firmware's 127 characters")
        if hmac_key is not None and len(hmac_key) > 32:
            raise ValueError("the HMAC key is longer than the firmware's 32 characters")
        args = [label, _number_text(interval_ms), str(int(length_ms))]
        if hmac_key is not None:
            args.append(hmac_key)
        response = self.command("AT+SAMPLESETTINGS=" + ",".join(args))
        if not any(line.strip() == "OK" for line in response):
            raise AtCommandError("AT+SAMPLESETTINGS", " / ".join(response) or "no OK")

    def _read_base64(self, command: str, retries: int) -> bytes:
        last = ""
        for attempt in range(retries + 1):
            response = [line.strip() for line in self.command(command, timeout=LONG_TIMEOUT)]
            text = "".join(line for line in response if line)
            if text.startswith(("File '", "Failed to read", "ERR")):
                raise AtCommandError(command, text)
            try:
                return base64.b64decode(text, validate=True)
            except (binascii.Error, ValueError) as exc:
                last = str(exc)
                self.note_garbled(text[:60] + "...", f"{command}: base64 ({exc})")
                self.counters.retries += 1
        raise AtProtocolError(f"{command}: the board's base64 did not decode after "
                              f"{retries + 1} attempts ({last})")

    def read_file(self, name: str, retries: int = 2) -> bytes:
        """``AT+READFILE=name``: the file's bytes."""
        return self._read_base64(f"AT+READFILE={name}", retries)

    def read_buffer(self, start: int, length: int, retries: int = 2) -> bytes:
        """``AT+READBUFFER=start,length``: bytes of the temporary buffer."""
        return self._read_base64(f"AT+READBUFFER={int(start)},{int(length)}", retries)

    def unlink(self, name: str) -> None:
        response = [line for line in self.command(f"AT+UNLINKFILE={name}") if line.strip()]
        if response:
            raise AtCommandError(f"AT+UNLINKFILE={name}", " / ".join(response))

    def read_document(self, name: Optional[str], buffer_range: Optional[Tuple[int, int]],
                      hmac_key: Optional[str], retries: int = 2
                      ) -> Tuple[bytes, DataAcquisition, Optional[bool]]:
        """Read a recorded file (or buffer range), decode it, check its signature; a read that
        does not decode or verify is read again (the wire may have damaged it)."""
        problem = ""
        for attempt in range(retries + 1):
            if buffer_range is not None:
                data = self.read_buffer(buffer_range[0], buffer_range[1] - buffer_range[0])
            elif name is not None:
                data = self.read_file(name)
            else:
                raise AtProtocolError("the sampling log named neither a file nor a buffer")
            try:
                doc, valid = decode_verified(data, hmac_key)
            except AcquisitionFormatError as exc:
                problem = f"the document does not decode: {exc}"
            else:
                if valid is not False:
                    return data, doc, valid
                problem = "its HS256 signature does not match the HMAC key"
            log.warning("%s: %s as read (attempt %d); reading again", self.link.name,
                        problem, attempt + 1)
            self.counters.retries += 1
        raise AtProtocolError(f"{name or buffer_range}: {problem}")

    def sample(self, sensor: str, label: str, length_ms: int,
               interval_ms: Optional[float] = None, hmac_key: Optional[str] = None,
               unlink: bool = True, on_line: Optional[Callable[[str], None]] = None
               ) -> SampleResult:
        """Record ``length_ms`` of ``sensor`` on the board, read the document back, verify it
        (with ``hmac_key``, else the key the board signs with), and remove the file."""
        cfg = self.config or self.read_config()
        info = cfg.sensor(sensor)
        if interval_ms is None:
            interval_ms = 1000.0 / info.frequencies[0] if info.frequencies else 10.0
        self.set_sample_settings(label, interval_ms, length_ms, hmac_key)
        key = hmac_key if hmac_key is not None else cfg.sampling.hmac_key
        command = f"AT+SAMPLESTART={info.name}"
        lines = self._sample_log(command, (length_ms + 3000) * 10 / 1000.0, on_line)
        filename, total, brange = None, None, None
        for line in lines:
            s = line.strip()
            if s.startswith("File name:"):
                filename = s.split(":", 1)[1].strip()
            elif s.startswith("Total samples collected:"):
                total = _int_after_colon(s)
            m = re.search(r"Used buffer, from=(\d+), to=(\d+)", s)
            if m:
                brange = (int(m.group(1)), int(m.group(2)))
            if s.startswith(("Failed", "ERR", "sensor_aq_", "Cannot start", "Error")):
                raise AtCommandError(command, s)
        if not any(line.strip() == "OK" for line in lines):
            raise AtCommandError(command, "sampling did not end with OK: "
                                 + " / ".join(lines[-3:]))
        data, doc, valid = self.read_document(filename, brange, key)
        result = SampleResult(info.name, filename, lines, total, brange, data, doc, valid)
        if unlink and filename is not None and brange is None:
            self.unlink(filename)
            result.unlinked = True
        return result

    def _sample_log(self, command: str, timeout: float,
                    on_line: Optional[Callable[[str], None]]) -> List[str]:
        self._lines.clear()
        self.write_command(command)
        deadline = time.monotonic() + timeout
        lines: List[str] = []
        while True:
            for line in self._lines.lines():
                lines.append(line)
                if on_line is not None and len(lines) > 1:
                    on_line(line)
            if self._lines.take_prompt() is not None:
                return lines[1:]
            if time.monotonic() >= deadline:
                self.stop_running()
                raise AtTimeout(f"{command}: sampling did not finish within {timeout:g} s")
            data = self.link.read()
            if data:
                self._lines.feed(data)

    def stop_running(self, timeout: float = BREAK_TIMEOUT) -> List[str]:
        """Send ``b`` and wait for the prompt; returns the lines that came before it."""
        self.link.write(b"b")
        return self._read_until_prompt(timeout, "b")

    def run_impulse(self, debug: bool = False) -> "ImpulseSession":
        """Start ``AT+RUNIMPULSE`` (``AT+RUNIMPULSEDEBUG``); read results from the session."""
        session = ImpulseSession(self, debug)
        session.start()
        return session


class ImpulseSession:
    """A running ``AT+RUNIMPULSE`` loop: :meth:`poll` returns parsed events, :meth:`stop`
    ends the loop with ``b``."""

    def __init__(self, client: AtClient, debug: bool = False):
        self.client = client
        self.command = "AT+RUNIMPULSEDEBUG" if debug else "AT+RUNIMPULSE"
        self.parser = InferenceOutputParser()
        self.running = False
        self.last_data = time.monotonic()
        self._echo_seen = False

    def start(self) -> None:
        c = self.client
        c.discard_stale_output()
        c.write_command(self.command)
        self.running = True
        self._echo_seen = False
        self.last_data = time.monotonic()

    def _handle(self, line: str) -> List[Event]:
        if not self._echo_seen:
            self._echo_seen = True
            if line.strip() == self.command:
                return []
        return self.parser.feed(line)

    def poll(self, timeout: float = 0.5) -> List[Event]:
        """Events parsed from what arrives within ``timeout`` (returns as soon as there are
        any). A prompt means the board left the loop: then :attr:`running` is False."""
        c = self.client
        deadline = time.monotonic() + timeout
        events: List[Event] = []
        while True:
            for line in c._lines.lines():
                events += self._handle(line)
            before = c._lines.take_prompt()
            if before is not None:
                if before:
                    events += self._handle(before)
                events += self.parser.flush()
                self.running = False
                return events
            if events or time.monotonic() >= deadline:
                return events
            data = c.link.read()
            if data:
                self.last_data = time.monotonic()
                c._lines.feed(data)

    def stop(self, timeout: float = BREAK_TIMEOUT) -> List[Event]:
        """``b``, then the prompt within ``timeout``; returns the events that came before it
        (raises AtTimeout when the board does not stop)."""
        if not self.running:
            return []
        events: List[Event] = []
        for line in self.client.stop_running(timeout):
            events += self._handle(line)
        events += self.parser.flush()
        self.running = False
        return events


def _number_text(x: float) -> str:
    """A number as the firmware's ``atof`` reads it: integers without a decimal point."""
    if float(x).is_integer():
        return str(int(x))
    text = repr(float(x))
    if "e" in text or "inf" in text or "nan" in text or not math.isfinite(float(x)):
        raise ValueError(f"interval must be a plain positive number, got {x!r}")
    return text


def _int_after_colon(line: str) -> Optional[int]:
    try:
        return int(line.split(":", 1)[1].strip())
    except (IndexError, ValueError):
        return None
