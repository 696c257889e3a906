"""Serial ports: finding boards, and a link to a device path that may vanish and come back.

Discovery uses pyserial's port listing. A port "looks like a board" when it is an ST-LINK
virtual COM port (ST's vendor id 0483 with an ST-LINK product id: the DISCO-L475VG-IOT01A's
ST-LINK/V2-1 is 0483:374B) or any USB CDC-ACM device (``/dev/ttyACM*``: Arduino, Nordic, Pico
and most boards running Edge Impulse firmware or a data-forwarder sketch).

:class:`SerialLink` owns one path. Every failure of the device (pyserial's ``SerialException``,
``OSError``: the USB device was unplugged, the pty closed) becomes :class:`Disconnected`, and
:meth:`SerialLink.reopen` waits until the *same path* opens again - a ``/dev/serial/by-id/``
link, or ``/dev/ttyACM0`` when the board re-enumerates under its old name.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import List, Optional

import serial
from serial.tools import list_ports

log = logging.getLogger("firmware_bridge.ports")

__all__ = ["BoardPort", "Disconnected", "SerialLink", "list_board_ports", "ST_VENDOR_ID",
           "ST_LINK_PRODUCT_IDS"]

ST_VENDOR_ID = 0x0483
#: ST-LINK/V2 (3748), V2-1 (374B, the DISCO-L475VG-IOT01A), V3 variants (374E/374F/3753/3754)
ST_LINK_PRODUCT_IDS = frozenset({0x3748, 0x374B, 0x374E, 0x374F, 0x3752, 0x3753, 0x3754})


class Disconnected(Exception):
    """The serial device went away (or could not be opened)."""


@dataclass(frozen=True)
class BoardPort:
    """A serial port that looks like a board."""

    device: str
    kind: str                      # "ST-LINK" or "CDC-ACM"
    vid: Optional[int]
    pid: Optional[int]
    description: str
    serial_number: Optional[str]

    @property
    def vid_pid(self) -> str:
        if self.vid is None or self.pid is None:
            return "-"
        return f"{self.vid:04x}:{self.pid:04x}"

    def to_dict(self) -> dict:
        return {"port": self.device, "kind": self.kind, "vid_pid": self.vid_pid,
                "description": self.description, "serial_number": self.serial_number}


def _kind(info) -> Optional[str]:
    if info.vid == ST_VENDOR_ID and info.pid in ST_LINK_PRODUCT_IDS:
        return "ST-LINK"
    name = os.path.basename(info.device)
    # the cdc_acm driver's names on Linux; macOS names CDC-ACM devices usbmodem*
    if name.startswith("ttyACM") or "usbmodem" in name:
        return "CDC-ACM"
    return None


def list_board_ports() -> List[BoardPort]:
    """The serial ports that look like boards, sorted by device name."""
    out = []
    for info in list_ports.comports():
        kind = _kind(info)
        if kind is None:
            continue
        out.append(BoardPort(info.device, kind, info.vid, info.pid,
                             info.description or info.product or "", info.serial_number))
    return sorted(out, key=lambda p: p.device)


def port_serial_number(device: str) -> Optional[str]:
    """The USB serial number of the device behind ``device`` (links resolved), if known."""
    real = os.path.realpath(device)
    for info in list_ports.comports():
        if os.path.realpath(info.device) == real:
            return info.serial_number
    return None


class SerialLink:
    """One board's serial device; reads and writes raise :class:`Disconnected` on failure."""

    def __init__(self, path: str, baudrate: int = 115200, read_timeout: float = 0.05):
        self.path = path
        self.baudrate = baudrate
        self.read_timeout = read_timeout
        self._serial: Optional[serial.Serial] = None
        self._write_lock = threading.Lock()
        self.bytes_read = 0
        self.opens = 0

    @property
    def name(self) -> str:
        """Short name for messages (``ttyACM0``)."""
        return os.path.basename(self.path)

    @property
    def is_open(self) -> bool:
        return self._serial is not None

    def open(self) -> None:
        """Open the device once (raises Disconnected when it is not there or not a tty)."""
        self.close()
        try:
            ser = serial.Serial(self.path, self.baudrate, timeout=self.read_timeout,
                                write_timeout=2.0, exclusive=True)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise Disconnected(f"{self.path}: {exc}") from None
        self._serial = ser
        self.opens += 1

    def reopen(self, stop: threading.Event, timeout: Optional[float] = None) -> bool:
        """Wait until the path opens again (polling, 0.1 s growing to 1 s); False if ``stop``
        was set or ``timeout`` passed first."""
        self.close()
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = 0.1
        while not stop.is_set():
            if os.path.exists(self.path):
                try:
                    self.open()
                    return True
                except Disconnected as exc:
                    log.debug("%s", exc)
            if deadline is not None and time.monotonic() >= deadline:
                return False
            stop.wait(delay)
            delay = min(1.0, delay * 1.5)
        return False

    def close(self) -> None:
        ser, self._serial = self._serial, None
        if ser is not None:
            try:
                ser.close()
            except (serial.SerialException, OSError):
                pass

    def read(self, size: int = 65536) -> bytes:
        """What has arrived (waits up to ``read_timeout`` for the first byte); b"" if nothing."""
        ser = self._serial
        if ser is None:
            raise Disconnected(f"{self.path}: not open")
        try:
            waiting = ser.in_waiting
            data = ser.read(min(size, waiting) if waiting else 1)
            if data and not waiting:
                more = ser.in_waiting
                if more:
                    data += ser.read(min(size, more))
        except (serial.SerialException, OSError, TypeError) as exc:
            # TypeError: pyserial reading a port closed under it by another thread
            raise Disconnected(f"{self.path}: {exc}") from None
        self.bytes_read += len(data)
        return data

    def write(self, data: bytes) -> None:
        ser = self._serial
        if ser is None:
            raise Disconnected(f"{self.path}: not open")
        try:
            with self._write_lock:
                ser.write(data)  # no flush(): tcdrain has no timeout on a wedged device
        except (serial.SerialException, OSError, TypeError) as exc:
            raise Disconnected(f"{self.path}: {exc}") from None

    def send_break(self, duration: float = 0.05) -> None:
        """A serial break (ignored by devices and ptys that have none)."""
        ser = self._serial
        if ser is None:
            return
        try:
            ser.send_break(duration)
        except (serial.SerialException, OSError, AttributeError, ValueError):
            pass
