"""The emulated board's wire: a pseudo-terminal, a stable device path, and faults on demand.

A board is a pty pair from ``os.openpty()``: the emulator holds the master end, the bridge opens
the slave (``/dev/pts/N``) with pyserial exactly as it opens ``/dev/ttyACM0``. ``path`` is a
symlink to the slave - what udev's ``/dev/serial/by-id/...`` links are for real boards - so
that an *unplug* (the pty is closed: the bridge's reads fail as on a vanished USB device and the
link disappears) followed by a *replug* (a new pty, the link re-pointed to it, the firmware
rebooted) looks to the bridge like the same board coming back.

Faults (:class:`Faults`, changeable while running) act on the device's output only, a line at
a time: garbled bytes, truncated lines, a hang (the board stops reading and writing, ``b``
included), a slow device (a pause after every few bytes), and a disconnect after N more output
lines (optionally followed by a replug).
"""
from __future__ import annotations

import logging
import os
import random
import select
import threading
import time
import tty
from dataclasses import dataclass
from typing import Callable, Optional

log = logging.getLogger("firmware_bridge.emulator")

__all__ = ["Faults", "PtyLink", "LinkClosed"]


class LinkClosed(Exception):
    """The pty was closed (unplugged) while writing."""


@dataclass
class Faults:
    """What goes wrong on the wire; every field may be changed while the board runs."""

    #: probability that an output line gets 1-3 bytes replaced by random bytes
    garble_rate: float = 0.0
    #: probability that an output line is cut short (its line ending is still sent)
    truncate_rate: float = 0.0
    #: the board stops: no output, input ignored (``b`` too) until cleared
    hang: bool = False
    #: seconds to pause after every ``slow_chunk`` output bytes (a slow device / slow USB)
    byte_delay: float = 0.0
    slow_chunk: int = 1
    #: unplug after this many more complete output lines (None: never)
    disconnect_after_lines: Optional[int] = None
    #: with ``disconnect_after_lines``: plug back in after this many seconds (None: stay out)
    replug_after_s: Optional[float] = None
    seed: int = 1


class PtyLink:
    """One pty end for one emulated board; ``on_input(bytes)`` gets what the host writes."""

    def __init__(self, path: Optional[str], on_input: Callable[[bytes], None],
                 faults: Optional[Faults] = None, on_replug: Optional[Callable[[], None]] = None):
        self.path = os.path.abspath(path) if path else None
        self.on_input = on_input
        self.on_replug = on_replug
        self.faults = faults or Faults()
        self._rng = random.Random(self.faults.seed)
        self._write_lock = threading.Lock()
        self._state_lock = threading.Lock()
        self._master: Optional[int] = None
        self._slave: Optional[int] = None
        self._reader: Optional[threading.Thread] = None
        self._stop = threading.Event()
        self._generation = 0
        self.slave_name: Optional[str] = None
        self.plugged = False
        self.bytes_written = 0
        self.lines_written = 0
        self.garbled_lines = 0
        self.truncated_lines = 0
        self.unplug_count = 0
        self._partial = b""

    # -- plug / unplug ------------------------------------------------------------------------
    def plug(self) -> str:
        """Create the pty, point ``path`` at it and start reading; returns the device path."""
        with self._state_lock:
            if self.plugged:
                return self.device
            master, slave = os.openpty()
            tty.setraw(slave)  # as the USB CDC device: no echo, no line discipline
            tty.setraw(master)
            os.set_blocking(master, False)  # a host that stops reading must not wedge unplug()
            self._master, self._slave = master, slave
            self.slave_name = os.ttyname(slave)
            if self.path:
                tmp = f"{self.path}.tmp{os.getpid()}"
                if os.path.lexists(tmp):
                    os.unlink(tmp)
                os.symlink(self.slave_name, tmp)
                os.replace(tmp, self.path)
            self._generation += 1
            self._stop.clear()
            self.plugged = True
            self._partial = b""
            self._reader = threading.Thread(target=self._read_loop,
                                            args=(master, self._generation),
                                            name=f"emulator-pty-{self.slave_name}", daemon=True)
            self._reader.start()
        return self.device

    @property
    def device(self) -> str:
        return self.path or self.slave_name or ""

    def unplug(self) -> None:
        """Close the pty (the host sees the device vanish) and remove the link."""
        with self._state_lock:
            if not self.plugged:
                return
            self.plugged = False
            self.unplug_count += 1
            self._stop.set()
            if self.path and os.path.islink(self.path) and \
                    os.readlink(self.path) == self.slave_name:
                os.unlink(self.path)
            # the write lock: never close the fd under a writer in the middle of os.write
            with self._write_lock:
                for fd in (self._master, self._slave):
                    if fd is not None:
                        try:
                            os.close(fd)
                        except OSError:
                            pass
                self._master = self._slave = None
        reader = self._reader
        if reader is not None and reader is not threading.current_thread():
            reader.join(2.0)

    def replug(self) -> str:
        self.unplug()
        return self.plug_back()

    def plug_back(self) -> str:
        """Plug in again after an unplug: :meth:`plug`, then ``on_replug`` (the board boots)."""
        dev = self.plug()
        if self.on_replug is not None:
            self.on_replug()
        return dev

    def close(self) -> None:
        self.unplug()

    # -- input --------------------------------------------------------------------------------
    def _read_loop(self, master: int, generation: int) -> None:
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([master], [], [], 0.05)
            except (OSError, ValueError):
                return
            if not ready:
                continue
            try:
                data = os.read(master, 4096)
            except OSError:
                # EIO: no process has the slave open - only while the host reopens
                time.sleep(0.01)
                continue
            if not data:
                continue
            if self.faults.hang or generation != self._generation:
                continue
            try:
                self.on_input(data)
            except LinkClosed:
                return
            except Exception:  # pragma: no cover - an emulator bug must be visible
                log.exception("emulator: input handler failed")

    # -- output -------------------------------------------------------------------------------
    def _damage(self, line: bytes) -> bytes:
        """Apply garbling/truncation to one line (terminator included)."""
        f = self.faults
        body = line.rstrip(b"\r\n")
        end = line[len(body):]
        if not body:
            return line
        if f.truncate_rate and self._rng.random() < f.truncate_rate:
            body = body[:self._rng.randrange(0, len(body))]
            self.truncated_lines += 1
        if f.garble_rate and body and self._rng.random() < f.garble_rate:
            b = bytearray(body)
            for _ in range(self._rng.randint(1, 3)):
                b[self._rng.randrange(len(b))] = self._rng.choice(
                    b"#@!?~\x00\xff\x80\x1b" + bytes(range(0x21, 0x7f)))
            body = bytes(b)
            self.garbled_lines += 1
        return body + end

    def write(self, data: bytes, raw: bool = False) -> None:
        """Send device output through the faults. Raises LinkClosed when unplugged.

        ``raw``: bytes that go out at once, not held for a line end and not damaged (the echo
        of typed characters and the prompt)."""
        f = self.faults
        if f.hang:
            # a frozen board prints nothing; the writer waits as a blocked firmware thread would
            while f.hang and self.plugged:
                time.sleep(0.01)
            if not self.plugged:
                raise LinkClosed()
        if raw:
            data, self._partial = self._partial + data, b""
            self._send(data)
            return
        data = self._partial + data
        lines = data.split(b"\n")
        self._partial = lines.pop()  # bytes after the last newline wait for their line end
        out = []
        disconnect = False
        for raw in lines:
            line = raw + b"\n"
            if f.garble_rate or f.truncate_rate:
                line = self._damage(line)
            out.append(line)
            self.lines_written += 1
            if f.disconnect_after_lines is not None:
                f.disconnect_after_lines -= 1
                if f.disconnect_after_lines <= 0:
                    disconnect = True
                    break
        if not disconnect and len(self._partial) > 4096:
            part, self._partial = self._partial, b""  # a long line (base64) goes out as it
            out.append(self._damage(part) if (f.garble_rate or f.truncate_rate) else part)
        self._send(b"".join(out))
        if disconnect:
            f.disconnect_after_lines = None
            replug = f.replug_after_s
            threading.Thread(target=self._disconnect, args=(replug,), daemon=True).start()
            raise LinkClosed()

    def flush_partial(self) -> None:
        """Send bytes held back waiting for a line end (the echo of typed characters)."""
        if self._partial:
            data, self._partial = self._partial, b""
            self._send(data)

    def _disconnect(self, replug_after: Optional[float]) -> None:
        self.unplug()
        if replug_after is not None:
            time.sleep(replug_after)
            self.plug_back()

    def _send(self, data: bytes) -> None:
        if not data:
            return
        f = self.faults
        step = max(1, f.slow_chunk) if f.byte_delay > 0 else len(data)
        for i in range(0, len(data), step):
            piece = data[i:i + step]
            with self._write_lock:
                fd = self._master
                if fd is None or not self.plugged:
                    raise LinkClosed()
                view = memoryview(piece)
                while view:
                    try:
                        n = os.write(fd, view)
                    except BlockingIOError:  # the host is not reading: wait, unless unplugged
                        if not self.plugged:
                            raise LinkClosed() from None
                        time.sleep(0.002)
                        continue
                    except OSError:
                        raise LinkClosed() from None
                    view = view[n:]
                self.bytes_written += len(piece)
            if f.byte_delay > 0:
                time.sleep(f.byte_delay)
