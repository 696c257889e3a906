"""An emulated data-forwarder board: a sketch that prints one reading per line at a set rate.

Lines are ``v1<sep>v2<sep>...\\r\\n`` (separator ``,``, TAB or space), written on a clock: at
every tick the lines that became due are written together, as a USB CDC device delivers them in
packets. The values are taken from ``source(start, n)`` and printed with ``decimals`` digits;
:attr:`ForwarderBoard.sent` keeps, in order, exactly the numbers that were printed (as the host
will parse them), for tests that check a round trip. The board ignores its input, as most
sketches do. ``error_line`` makes it print an ``ERR`` line (a sketch reporting a failed sensor)
after that many readings.
"""
from __future__ import annotations

import threading
import time
from typing import Callable, List, Optional

import numpy as np

from .link import Faults, LinkClosed, PtyLink

__all__ = ["ForwarderBoard", "sine_source"]


def sine_source(n_axes: int, frequency: float, seed: int = 0
                ) -> Callable[[int, int], np.ndarray]:
    """Smooth multi-axis motion with a little noise: ``f(start, n)`` -> (n, n_axes)."""
    rng = np.random.default_rng(seed)
    freqs = rng.uniform(0.5, 5.0, n_axes)
    amps = rng.uniform(0.5, 5.0, n_axes)

    def source(start: int, n: int) -> np.ndarray:
        t = (start + np.arange(n))[:, None] / frequency
        noise = np.random.default_rng(seed + 104729 * (start + 1)).normal(0, 0.05, (n, n_axes))
        return amps * np.sin(2 * np.pi * freqs * t) + noise

    return source


class ForwarderBoard:
    """``start()`` plugs it in and starts printing; ``device`` is the path to open."""

    def __init__(self, path: Optional[str] = None, *, n_axes: int = 3,
                 frequency: float = 62.5, separator: str = ",", decimals: int = 4,
                 source: Optional[Callable[[int, int], np.ndarray]] = None,
                 faults: Optional[Faults] = None, tick_s: float = 0.01,
                 banner: str = "", error_line: Optional[int] = None,
                 keep_sent: bool = True, seed: int = 0):
        self.n_axes = n_axes
        self.frequency = float(frequency)
        self.separator = separator
        self.decimals = decimals
        self.source = source or sine_source(n_axes, frequency, seed)
        self.tick_s = tick_s
        self.banner = banner
        self.error_line = error_line
        self.keep_sent = keep_sent
        self.link = PtyLink(path, lambda data: None, faults, on_replug=self._on_replug)
        self.faults = self.link.faults
        self.readings = 0             # readings printed so far (all plug sessions)
        self._sent: List[np.ndarray] = []
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._restart = threading.Event()

    @property
    def device(self) -> str:
        return self.link.device

    @property
    def sent(self) -> np.ndarray:
        """Every printed reading, in order, as the printed decimal text's value."""
        if not self._sent:
            return np.zeros((0, self.n_axes))
        return np.concatenate(self._sent)

    def start(self) -> "ForwarderBoard":
        self.link.plug()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="emulator-forwarder",
                                        daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        self.link.close()
        if self._thread is not None:
            self._thread.join(2.0)

    def __enter__(self) -> "ForwarderBoard":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    def unplug(self) -> None:
        self.link.unplug()

    def replug(self) -> None:
        self.link.replug()

    def _on_replug(self) -> None:
        self._restart.set()

    def _format(self, values: np.ndarray) -> tuple[bytes, np.ndarray]:
        fmt = f"%.{self.decimals}f"
        rows = [self.separator.join(fmt % v for v in row) for row in values]
        text = "".join(r + "\r\n" for r in rows)
        printed = None
        if self.keep_sent:  # the values as the printed text says them (what a host parses)
            printed = np.array(" ".join(rows).replace(self.separator, " ").split(),
                               dtype=np.float64).reshape(len(rows), self.n_axes)
        return text.encode("ascii"), printed

    def _run(self) -> None:
        while not self._stop.is_set():
            self._restart.clear()
            if self.link.plugged:
                self._stream()
            self._stop.wait(0.02)

    def _stream(self) -> None:
        try:
            if self.banner:
                self.link.write(self.banner.encode("ascii") + b"\r\n")
        except LinkClosed:
            return
        t0 = time.monotonic()
        done = 0
        while not self._stop.is_set() and not self._restart.is_set():
            due = int((time.monotonic() - t0) * self.frequency)
            n = due - done
            if n > 0:
                values = np.asarray(self.source(self.readings, n), dtype=np.float64)
                text, printed = self._format(values)
                if self.error_line is not None and self.readings + n > self.error_line:
                    text += b"ERR: sensor not responding\r\n"
                    self.error_line = None
                try:
                    self.link.write(text)
                except LinkClosed:
                    return
                if self.keep_sent:
                    self._sent.append(printed)
                self.readings += n
                done = due
            self._stop.wait(self.tick_s)
