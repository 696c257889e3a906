"""One reader thread per board, and the bridge that runs several of them.

Each board has its own thread, serial link and state, so a board that hangs, garbles or is
unplugged never stalls another: the only things they share are the output sink (one lock
around a line write) and the outbox (SQLite, its own lock).

A board's thread runs *sessions*. A session ends when the device vanishes
(:class:`~firmware_bridge.ports.Disconnected`), stops answering (a hang: nothing for
``hang_timeout`` seconds, or no prompt in time), or the bridge stops. After a failure the thread
reopens the same path until it is back (an unplugged board, a reset one), starts a new session,
and reports the gap: from the last data before the failure to the first result after it.
Failures while the board has never answered are fatal for that board (a wrong port, a board
without Edge Impulse firmware): they are reported and the other boards go on.
"""
from __future__ import annotations

import io
import json
import logging
import os
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import IO, Any, List, NamedTuple, Optional, Sequence

from edgert.errors import EdgertError

from .at_client import AtClient, AtCommandError, AtError, AtProtocolError, AtTimeout
from .capture import AnomalyUploader
from .forwarder import HostInference, ReadingParser, detect_frequency
from .inference_output import (DeviceError, FileComplete, FileStored, GarbledLine,
                               GarbledResult, InferenceResult, InferenceSettings)
from .ports import Disconnected, SerialLink, port_serial_number

log = logging.getLogger("firmware_bridge")

__all__ = ["BoardStats", "OutputSink", "AtBoardWorker", "ForwarderWorker", "Bridge",
           "BoardFailed"]

#: garbled lines logged one by one per board; after that, a count every 10 s
_GARBLED_LOG_LIMIT = 10


class BoardFailed(Exception):
    """A board cannot be used at all (wrong port, not a board of this kind)."""


class _Hung(Exception):
    pass


class _PendingCapture(NamedTuple):
    """An anomalous window's raw-data file, to fetch once the firmware has closed it
    (``complete``) or at ``deadline`` (monotonic seconds), whichever comes first."""

    file: str
    deadline: float
    complete: bool = False


@dataclass
class BoardStats:
    port: str
    mode: str
    device: Optional[str] = None
    windows: int = 0
    garbled_lines: int = 0
    device_errors: int = 0
    hangs: int = 0
    disconnects: int = 0
    reconnects: int = 0
    gaps_s: List[float] = field(default_factory=list)
    uploads_queued: int = 0
    captures: int = 0
    failed_captures: int = 0
    capture_gaps_s: List[float] = field(default_factory=list)
    error: Optional[str] = None

    def to_dict(self) -> dict:
        d = asdict(self)
        d["gaps_s"] = [round(g, 3) for g in self.gaps_s]
        d["capture_gaps_s"] = [round(g, 3) for g in self.capture_gaps_s]
        return d


class OutputSink:
    """Writes result lines to ``stream`` (stdout): text, or one JSON object per line."""

    def __init__(self, stream: Optional[IO[str]] = None, json_lines: bool = False,
                 on_closed: Optional[Any] = None):
        self.stream = stream or sys.stdout
        self.json_lines = json_lines
        #: called once when the reader of the stream went away (``edgert bridge | head``)
        self.on_closed = on_closed
        self.closed = False
        self._lock = threading.Lock()
        self.lines = 0

    def emit(self, obj: dict, text: str) -> None:
        line = json.dumps(obj, allow_nan=False) if self.json_lines else text
        with self._lock:
            if self.closed:
                return
            try:
                self.stream.write(line + "\n")
                self.stream.flush()
                self.lines += 1
            except (BrokenPipeError, ValueError):
                # point the descriptor at /dev/null so that no later flush fails again
                self.closed = True
                try:
                    devnull = os.open(os.devnull, os.O_WRONLY)
                    os.dup2(devnull, self.stream.fileno())
                    os.close(devnull)
                except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
                    pass
                if self.on_closed is not None:
                    self.on_closed()


def _fmt_us(us: Optional[int]) -> str:
    if us is None:
        return "-"
    return f"{us} us" if us < 1000 else f"{us / 1000:g} ms"


class _Worker(threading.Thread):
    """Reconnect loop shared by both modes; subclasses implement :meth:`_session`."""

    mode = "?"

    def __init__(self, port: str, sink: OutputSink, stop: threading.Event, *,
                 uploader: Optional[AnomalyUploader] = None, hang_timeout: Optional[float] = None,
                 baudrate: int = 115200, reconnect: bool = True):
        super().__init__(name=f"bridge-{os.path.basename(port)}", daemon=True)
        self.port = port
        self.sink = sink
        self.stop_event = stop
        self.uploader = uploader
        self.hang_timeout = hang_timeout
        self.reconnect = reconnect
        self.link = SerialLink(port, baudrate)
        self.stats = BoardStats(port=port, mode=self.mode)
        self.connected_once = False
        self._gap_from: Optional[float] = None
        self._gap_why = ""
        self.last_data = time.monotonic()
        self._garbled_logged = 0
        self._garbled_note = time.monotonic()

    # -- bookkeeping --------------------------------------------------------------------------
    @property
    def tag(self) -> str:
        return f"{self.link.name}" + (f" ({self.stats.device})" if self.stats.device else "")

    def garbled(self, text: str) -> None:
        self.stats.garbled_lines += 1
        if self._garbled_logged < _GARBLED_LOG_LIMIT:
            self._garbled_logged += 1
            log.warning("%s: garbled: %s", self.tag, text)
            if self._garbled_logged == _GARBLED_LOG_LIMIT:
                log.warning("%s: further garbled lines are logged at debug level, with a count "
                            "every 10 s", self.tag)
        else:
            log.debug("%s: garbled: %s", self.tag, text)
            if time.monotonic() - self._garbled_note > 10:
                self._garbled_note = time.monotonic()
                log.warning("%s: %d garbled lines so far", self.tag, self.stats.garbled_lines)

    def data_arrived(self) -> None:
        now = time.monotonic()
        self.last_data = now
        if self._gap_from is not None:
            gap = now - self._gap_from
            self.stats.gaps_s.append(gap)
            log.warning("%s: data again after a gap of %.2f s (%s)", self.tag, gap,
                        self._gap_why)
            self._gap_from = None

    def _failed(self, why: str) -> None:
        if self._gap_from is None:
            self._gap_from = self.last_data
            self._gap_why = why

    # -- the loop -----------------------------------------------------------------------------
    def run(self) -> None:
        try:
            self._run()
        except (BoardFailed, EdgertError) as exc:
            self.stats.error = str(exc)
            log.error("%s: %s", self.port, exc)
        except Exception as exc:  # a bug must not take the other boards down silently
            self.stats.error = f"internal error: {exc!r}"
            log.exception("%s: stopped by an internal error", self.link.name)
        finally:
            self.link.close()

    def _run(self) -> None:
        try:
            self.link.open()
        except Disconnected as exc:
            raise BoardFailed(f"cannot open the port ({str(exc).split(': ', 1)[-1]}); "
                              "`edgert bridge --list` shows the boards connected") from None
        while not self.stop_event.is_set():
            try:
                self._session()
                return  # stopped
            except Disconnected as exc:
                if self._gap_from is None:      # a new failure, not a retry of one
                    self.stats.disconnects += 1
                self._failed("disconnected")
                log.warning("%s: disconnected (%s); waiting for it to come back", self.tag, exc)
            except (_Hung, AtTimeout) as exc:
                if not self.connected_once and isinstance(exc, AtTimeout):
                    raise BoardFailed(f"{exc}; is it running Edge Impulse firmware? (for a "
                                      "board that prints readings use --forwarder)") from None
                if self._gap_from is None:
                    self.stats.hangs += 1
                self._failed("not responding")
                log.warning("%s: not responding (%s); reopening the port", self.tag, exc)
            except (AtProtocolError, AtCommandError) as exc:
                if not self.connected_once:
                    raise BoardFailed(str(exc)) from None
                self._failed("protocol error")
                log.warning("%s: %s; reconnecting", self.tag, exc)
            if not self.reconnect:
                raise BoardFailed("the board failed and --no-reconnect was given")
            self.link.close()
            self.stop_event.wait(0.2)
            if self.link.reopen(self.stop_event):
                self.stats.reconnects += 1
                log.info("%s: port open again", self.tag)

    def _session(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError


class AtBoardWorker(_Worker):
    """A board running Edge Impulse firmware: ``AT+RUNIMPULSE``, results parsed, anomalous
    windows fetched and queued (stop with ``b``, read, unlink, resume)."""

    mode = "at"

    def __init__(self, port: str, sink: OutputSink, stop: threading.Event, *,
                 debug: bool = False, capture_wait: float = 1.0, **kw: Any):
        super().__init__(port, sink, stop, **kw)
        self.debug = debug
        self.capture_wait = capture_wait
        self.client: Optional[AtClient] = None
        self.board_key: Optional[str] = None

    def _effective_hang_timeout(self, settings: Optional[InferenceSettings]) -> float:
        if self.hang_timeout is not None:
            return self.hang_timeout
        window_ms = (settings.sample_length_ms if settings and settings.sample_length_ms
                     else 2000.0)
        # a window of sampling plus the firmware's 2 s pause between windows, three times
        return max(10.0, 3 * (window_ms + 2000.0) / 1000.0)

    def _session(self) -> None:
        client = self.client = AtClient(self.link, on_garbled=self.garbled)
        client.connect()
        cfg = client.read_config()
        if self.stats.device and cfg.device_id and cfg.device_id != self.stats.device:
            log.warning("%s: a different board is on this port now: %s", self.tag,
                        cfg.device_id)
        if cfg.device_id:
            self.stats.device = cfg.device_id
        self.board_key = cfg.sampling.hmac_key
        self.connected_once = True
        log.info("%s: %s, AT %s, connected", self.tag, cfg.device_type, cfg.at_version)
        session = client.run_impulse(self.debug)
        pending: Optional[_PendingCapture] = None
        try:
            while not self.stop_event.is_set():
                events = session.poll(0.2)
                for ev in events:
                    pending = self._event(ev, pending)
                if pending is not None and (pending.complete or
                                            time.monotonic() >= pending.deadline):
                    session = self._capture(client, session, pending.file)
                    pending = None
                    continue
                if not session.running:
                    log.warning("%s: the board left the inference loop; starting it again",
                                self.tag)
                    session = client.run_impulse(self.debug)
                    continue
                limit = self._effective_hang_timeout(session.parser.settings)
                if time.monotonic() - session.last_data > limit:
                    raise _Hung(f"no output for {limit:g} s")
        finally:
            if self.stop_event.is_set() and session.running:
                try:
                    for ev in session.stop():
                        self._event(ev, None)
                    log.info("%s: inference loop stopped with 'b'", self.tag)
                except (AtError, Disconnected) as exc:
                    log.warning("%s: could not stop the inference loop: %s", self.tag, exc)

    def _event(self, ev: Any, pending: Optional[_PendingCapture]
               ) -> Optional[_PendingCapture]:
        if isinstance(ev, InferenceResult):
            self.stats.windows += 1
            self.data_arrived()
            obj = ev.to_json()
            obj["port"] = self.port
            obj["device"] = self.stats.device
            scores = "  ".join(f"{k} {v:.3f}" for k, v in ev.classification.items())
            an = "" if ev.anomaly is None else f"  anomaly {ev.anomaly:.3f}"
            t = ev.timing_us
            text = (f"{self.link.name} {self.stats.device or '-'}  {scores}{an}  "
                    f"(dsp {_fmt_us(t.get('dsp'))}, classification "
                    f"{_fmt_us(t.get('classification'))}, anomaly {_fmt_us(t.get('anomaly'))})")
            self.sink.emit(obj, text)
            if self.uploader is not None and self.uploader.is_anomalous(ev.anomaly):
                if ev.file:
                    # the file is complete once the firmware says so (or after capture_wait)
                    return _PendingCapture(ev.file, time.monotonic() + self.capture_wait)
                log.warning("%s: anomalous window, but the board did not name its raw-data "
                            "file; nothing to upload", self.tag)
                self.stats.failed_captures += 1
        elif isinstance(ev, FileComplete):
            if pending is not None and ev.name == pending.file:
                return pending._replace(complete=True)
        elif isinstance(ev, FileStored):
            if pending is not None and ev.name != pending.file:
                return pending._replace(complete=True)  # the anomalous file is closed
        elif isinstance(ev, (GarbledLine,)):
            self.garbled(ev.line)
        elif isinstance(ev, GarbledResult):
            self.garbled(f"result dropped ({ev.reason}): {' | '.join(ev.lines)[:200]}")
        elif isinstance(ev, DeviceError):
            self.stats.device_errors += 1
            log.warning("%s: the board reports: %s", self.tag, ev.line)
        return pending

    def _capture(self, client: AtClient, session, name: str):
        """Stop the loop, read the window's file, queue it, unlink it, resume; the time the
        loop was stopped is the capture's gap."""
        t0 = time.monotonic()
        for ev in session.stop():
            self._event(ev, None)
        key = self.uploader.hmac_key if self.uploader.hmac_key else self.board_key
        try:
            data, doc, valid = client.read_document(name, None, key)
            if valid is None and doc.alg == "HS256" and key is None:
                log.warning("%s: %s is signed but there is no key to check it", self.tag, name)
            self.uploader.queue_board_file(data, self.port, self.stats.device, name)
            self.stats.uploads_queued += 1
            client.unlink(name)
            self.stats.captures += 1
        except (AtProtocolError, AtCommandError) as exc:
            self.stats.failed_captures += 1
            hint = ""
            if "signature" in str(exc) and self.uploader.hmac_key:
                hint = (" (the board signs with the key of AT+SAMPLESETTINGS; --hmac-key must "
                        "be the same)")
            log.error("%s: could not capture %s: %s%s", self.tag, name, exc, hint)
        except EdgertError as exc:  # the outbox refused it (full, closed)
            self.stats.failed_captures += 1
            log.error("%s: could not queue %s: %s", self.tag, name, exc)
        new = client.run_impulse(self.debug)
        gap = time.monotonic() - t0
        self.stats.capture_gaps_s.append(gap)
        log.info("%s: inference resumed %.2f s after stopping to capture %s", self.tag, gap,
                 name)
        return new


class ForwarderWorker(_Worker):
    """A board printing readings: host-side inference with ``Impulse.stream()``."""

    mode = "forwarder"

    def __init__(self, port: str, sink: OutputSink, stop: threading.Event, impulse: Any, *,
                 axes: Optional[Sequence[str]] = None, frequency: Optional[float] = None,
                 variant: Optional[str] = None, device: Optional[str] = None,
                 batch_interval: float = 0.02, **kw: Any):
        super().__init__(port, sink, stop, **kw)
        self.impulse = impulse
        #: after each read, wait this long so that the next read takes a batch of lines (one
        #: wake-up per 20 ms instead of one per USB packet; far below a window increase)
        self.batch_interval = batch_interval
        self.axes = list(axes) if axes else None
        self.frequency = frequency
        self.variant = variant
        self.device_name = device
        self.inference: Optional[HostInference] = None
        self.parser: Optional[ReadingParser] = None

    def _check_frequency(self, hz: float, how: str) -> None:
        want = float(self.impulse.frequency)
        tolerance = 0.005 if how == "given" else 0.1
        if abs(hz - want) > tolerance * want:
            raise BoardFailed(
                f"the board's readings come at {hz:g} Hz ({how}) but the impulse expects "
                f"{want:g} Hz; the stream is classified without resampling - make the board "
                f"print at {want:g} Hz, or use an impulse for {hz:g} Hz")

    def _first_session(self) -> None:
        imp = self.impulse
        if self.frequency is not None:
            self._check_frequency(self.frequency, "given")
            n_axes = len(self.axes) if self.axes else None
        else:
            det = detect_frequency(self.link.read, float(imp.frequency))
            log.info("%s: detected %g Hz (%d readings in %g s), %d values per reading",
                     self.link.name, det.frequency, det.lines, det.seconds, det.n_axes)
            self._check_frequency(det.frequency, "detected")
            n_axes = det.n_axes
            if self.axes and len(self.axes) != n_axes:
                raise BoardFailed(f"--axes names {len(self.axes)} columns but the board "
                                  f"prints {n_axes} values per reading")
        if not self.axes:
            if n_axes is not None and n_axes != len(imp.axes):
                raise BoardFailed(
                    f"the board prints {n_axes} values per reading but the impulse has "
                    f"{len(imp.axes)} axes ({', '.join(imp.axes)}); name the board's columns "
                    f"with --axes")
            self.axes = list(imp.axes)
        self.parser = ReadingParser(len(self.axes))
        threshold = self.uploader.threshold if self.uploader is not None else None
        self.inference = HostInference(imp, self.axes, self.variant, rows_above=threshold)
        self.stats.device = (self.device_name or port_serial_number(self.port)
                             or self.link.name)

    def _session(self) -> None:
        if self.inference is None:
            self._first_session()   # a ConfigurationError ends this board, as BoardFailed does
        else:
            self.inference.restart()
            self.parser.reset()
        self.connected_once = True
        inf, parser = self.inference, self.parser
        limit = self.hang_timeout if self.hang_timeout is not None else max(
            2.0, 20.0 / float(self.impulse.frequency))
        self.last_data = time.monotonic()
        while not self.stop_event.is_set():
            data = self.link.read()
            if not data:
                if time.monotonic() - self.last_data > limit:
                    raise _Hung(f"no readings for {limit:g} s")
                continue
            chunk = parser.feed(data)
            for line in chunk.garbled:
                self.garbled(line)
            if chunk.errors:
                self.stats.device_errors += len(chunk.errors)
                raise BoardFailed(f"the board reported an error: {chunk.errors[0]!r} (the data "
                                  "forwarder stops on ERR lines)")
            if len(chunk.rows):
                self.data_arrived()
                for w in inf.push(chunk.rows):
                    self._window(w)
            if self.batch_interval > 0:
                self.stop_event.wait(self.batch_interval)

    def _window(self, w) -> None:
        self.stats.windows += 1
        obj = w.to_json()
        obj["port"] = self.port
        obj["device"] = self.stats.device
        top = max(w.classification, key=w.classification.get) if w.classification else "-"
        scores = "  ".join(f"{k} {v:.3f}" for k, v in w.classification.items())
        an = "" if w.anomaly is None else f"  anomaly {w.anomaly:.3f}"
        self.sink.emit(obj, f"{self.link.name} window {w.window} @ {w.start_ms:.0f} ms: {top}"
                            f"  [{scores}]{an}")
        if w.rows is not None and self.uploader is not None:
            try:
                self.uploader.queue_window(w.rows, self.impulse.axes, self.inference.frequency,
                                           self.port, self.stats.device, w.window)
                self.stats.uploads_queued += 1
            except EdgertError as exc:
                self.stats.failed_captures += 1
                log.error("%s: could not queue window %d: %s", self.tag, w.window, exc)


class Bridge:
    """Runs workers until :meth:`stop` (or until every worker has ended)."""

    def __init__(self, workers: Sequence[_Worker], stop: threading.Event):
        self.workers = list(workers)
        self.stop_event = stop
        self.started = time.monotonic()

    def start(self) -> "Bridge":
        for w in self.workers:
            w.start()
        return self

    def wait(self, duration: Optional[float] = None) -> None:
        """Until stopped, ``duration`` elapsed, or every board has ended."""
        end = None if duration is None else time.monotonic() + duration
        while not self.stop_event.is_set():
            if not any(w.is_alive() for w in self.workers):
                return
            if end is not None and time.monotonic() >= end:
                return
            self.stop_event.wait(0.1)

    def stop(self, timeout: float = 8.0) -> None:
        """Stop every board (each ends its loop with ``b``) and wait for the threads."""
        self.stop_event.set()
        deadline = time.monotonic() + timeout
        for w in self.workers:
            w.join(max(0.0, deadline - time.monotonic()))
            if w.is_alive():
                log.warning("%s: did not stop within %g s", w.tag, timeout)

    def summary(self) -> dict:
        boards = [w.stats.to_dict() for w in self.workers]
        total = {k: sum(b[k] for b in boards) for k in
                 ("windows", "garbled_lines", "device_errors", "hangs", "disconnects",
                  "reconnects", "uploads_queued", "captures", "failed_captures")}
        total["gaps"] = sum(len(b["gaps_s"]) for b in boards)
        total["seconds"] = round(time.monotonic() - self.started, 3)
        return {"boards": boards, "total": total}
