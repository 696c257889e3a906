"""An emulated DISCO-L475VG-IOT01A running Edge Impulse's firmware (AT command set 1.3.0).

Behaviour follows the firmware, not what would be convenient for a host:

- REPL: every typed character is echoed; ``\\r`` is echoed as ``\\r\\n`` and runs the line
  (``\\n`` is an ordinary character: it is echoed and becomes part of the next command, which is
  why hosts send ``\\r`` only); backspace erases with ``\\b \\b``. After a command the REPL is
  restarted, which prints the prompt as ``ESC [2K \\r > `` (``1B 5B 32 4B 0D 3E 20``).
- While a command runs, input is read only to look for ``b``: other bytes are dropped, ``b``
  terminates the command (the firmware polls its command thread for up to 10 x 200 ms, the
  emulator waits the first 200 ms) and the prompt comes back.
- Parsing as ``ei_at_cmd_handle``: trailing CR/LF/spaces stripped; not ``AT+`` (or shorter than
  4) -> ``Not a valid AT command (<cmd>)``; the first argument runs to the first ``=``/``?`` (kept
  in the name), the rest split on ``,`` with surrounding quotes removed, an empty last argument
  dropped; a name/argument count with no handler -> ``No handler for AT command (<cmd>)``;
  over 255 characters -> ``Command is too long (max. length 255)`` and a bare ``> `` prompt.
- Output uses ``\\n`` internally and goes out as ``\\r\\n`` (Mbed's stdio newline conversion).
- Sampling (``AT+SAMPLESTART``) prints the firmware's log, waits its 2000 ms start delay, samples
  ``ceil(length / interval)`` readings, and writes ``/fs/<label>.<n>`` as the firmware's
  ``sensor_aq`` streams it (CBOR: definite maps, an indefinite ``values`` array, floats in their
  smallest lossless width, HS256 over all bytes) using :func:`edgert.acquisition.encode_cbor`.
  Accelerometer readings are the sensor's milli-g integers divided by 100 in float32, as the
  firmware computes them.
- The microphone (``ei_microphone.h``): ``AT+SAMPLESTART=Built-in microphone`` sets the interval
  to 1000/16000 ms, prints its log (``Interval: 0.06250 ms.``, ``File name: /fs/<label>`` - no
  counter), records exactly ``length_ms * 16`` int16 samples and writes them to the temporary
  buffer (``AT+READBUFFER``, announced by ``Used buffer, from=0, to=N``): the ``sensor_aq``
  header up to the indefinite ``values`` array's ``9F`` (its closing ``FF`` dropped), then the
  reference ``6E "Ref-BINARY-i16" FF``, then the raw little-endian samples, HS256 over all of
  it. The DISCO-L475VG-IOT01A firmware pads nothing; boards on Edge Impulse's shared
  firmware-sdk (``insert_ref``) pad the reference text with spaces so that the samples start
  4-byte aligned: ``mic_padding=True`` emulates those. The samples come from
  ``microphone_source(start, n)`` (e.g. :func:`wav_microphone`; default: a 440 Hz tone).
- ``AT+READFILE`` / ``AT+READBUFFER`` print the bytes base64-encoded 513 bytes at a time
  (concatenated: one line that decodes as one string).
- ``AT+RUNIMPULSE`` loops: ``Sampling... Storing in file name: /fs/device-classification.<n>``,
  a window of sampling, the result in one of the three output formats (``firmware``), then
  ``Finished inferencing, raw data is stored in '...'`` and a 2 s pause, until ``b``.

``time_scale`` multiplies every firmware delay (0.01 makes a 2 s window last 20 ms) without
changing a byte of the output.
"""
from __future__ import annotations

import base64
import logging
import math
import threading
import time
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from edgert.acquisition import DataAcquisition, Sensor, encode_cbor

from .link import Faults, LinkClosed, PtyLink

log = logging.getLogger("firmware_bridge.emulator")

__all__ = ["AtFirmware", "ImpulseInfo", "FIRMWARE_FORMATS", "ST_PROMPT", "AT_VERSION",
           "synthetic_accelerometer", "synthetic_microphone", "wav_microphone",
           "microphone_file", "MIC_RATE"]

#: What the ST board prints as its prompt (REPL restart: erase line, CR, "> ").
ST_PROMPT = b"\x1b[2K\r> "
AT_VERSION = "1.3.0"
FIRMWARE_FORMATS = ("current", "2024", "2020")
ACCELEROMETER = "Built-in accelerometer"
MICROPHONE = "Built-in microphone"
#: the DISCO board's microphone rate (AUDIO_SAMPLING_FREQUENCY)
MIC_RATE = 16000
MicrophoneFn = Callable[[int, int], np.ndarray]

ResultFn = Callable[[int, np.ndarray], Tuple[Dict[str, float], Optional[float]]]


class _Cancelled(Exception):
    """The running command was terminated with ``b`` (or the board was unplugged)."""


@dataclass
class ImpulseInfo:
    """The on-board impulse as ``model_metadata.h`` would describe it (the demo's defaults)."""

    labels: Sequence[str] = ("idle", "snake", "updown", "wave")
    interval_ms: float = 16.0
    window_ms: float = 2000.0
    has_anomaly: bool = True
    #: DSP / classification / anomaly time printed in the result, microseconds
    timing_us: Tuple[int, int, int] = (11000, 420, 1000)

    @property
    def window_samples(self) -> int:
        return int(round(self.window_ms / self.interval_ms))


def synthetic_accelerometer(seed: int = 0) -> Callable[[int, int, float], np.ndarray]:
    """A deterministic 3-axis motion source: ``f(start, n, interval_ms)`` -> (n, 3) float32 m/s2,
    each value the sensor's milli-g integer / 100 in float32 (as the firmware computes it)."""
    rng = np.random.default_rng(seed)
    phase = rng.uniform(0, 2 * np.pi, 3)

    def source(start: int, n: int, interval_ms: float) -> np.ndarray:
        t = (start + np.arange(n)) * (interval_ms / 1000.0)
        noise = np.random.default_rng(seed + 7919 * (start + 1)).normal(0, 12, (n, 3))
        mg = np.stack([300 * np.sin(2 * np.pi * 1.3 * t + phase[0]),
                       -150 + 200 * np.sin(2 * np.pi * 0.7 * t + phase[1]),
                       981 + 80 * np.sin(2 * np.pi * 2.1 * t + phase[2])], axis=1) + noise
        mg = np.clip(np.round(mg), -32768, 32767).astype(np.int16)
        return (mg.astype(np.float32) / np.float32(100.0)).astype(np.float32)

    return source


def synthetic_microphone(frequency: float = 440.0, amplitude: int = 3000) -> MicrophoneFn:
    """A tone: ``f(start, n)`` -> n int16 samples from sample ``start`` of the stream."""
    def source(start: int, n: int) -> np.ndarray:
        t = (start + np.arange(n)) / MIC_RATE
        return np.round(amplitude * np.sin(2 * np.pi * frequency * t)).astype(np.int16)
    return source


def wav_microphone(path: str, loop: bool = False) -> MicrophoneFn:
    """A microphone that plays a 16-bit PCM mono WAV file recorded at 16 kHz (from its start
    at every recording; past its end silence, or the file again with ``loop``)."""
    from edgert.recording.wav import parse_wav
    with open(path, "rb") as f:
        values, rate, _, _ = parse_wav(f.read(), path)
    if rate != MIC_RATE:
        raise ValueError(f"{path}: {rate:g} Hz; the board's microphone records at {MIC_RATE} Hz")
    pcm = values[:, 0].astype(np.int16)

    def source(start: int, n: int) -> np.ndarray:
        del start   # every recording starts the file again
        if loop:
            return np.resize(pcm, n)
        return np.concatenate([pcm[:n], np.zeros(max(0, n - pcm.size), np.int16)])
    return source


def microphone_file(pcm: np.ndarray, device_id: str, device_type: str, hmac_key: str,
                    padding: bool = False) -> bytes:
    """The bytes ``ei_microphone_record`` leaves in the temporary buffer for these samples:
    the header ``sensor_aq_init`` encodes (its last byte, the ``FF`` closing the empty values
    array, dropped), the reference ``Ref-BINARY-i16`` text and ``FF``, the samples; signed
    with the first 32 bytes of the key over all of it (the signature field holding 64 ``0``
    while hashed). ``padding``: the firmware-sdk boards' spaces after the reference text up to
    a 4-byte aligned sample start (the DISCO board has none)."""
    from edgert.acquisition.cbor_codec import PLACEHOLDER, hmac_hex, key_bytes
    doc = DataAcquisition(device_name=device_id, device_type=device_type,
                          interval_ms=float(np.float32(1000.0 / MIC_RATE)),
                          sensors=[Sensor("audio", "wav")], values=pcm.astype(np.int16),
                          alg="HS256")
    data = bytearray(encode_cbor(doc, None))   # placeholder signature, signed below
    ref = b"\x6eRef-BINARY-i16\xff"
    at = data.index(b"\x9f" + ref) + 1          # the header ends after the values array's 9F
    if padding:
        extra = (4 - (at & 3)) & 3                 # the firmware-sdk's EXTRA_BYTES(header)
        data[at:at + len(ref)] = bytes([0x6E + extra]) + b"Ref-BINARY-i16" + b" " * extra + \
            b"\xff"
    sig = data.index(PLACEHOLDER)
    data[sig:sig + 64] = hmac_hex(key_bytes(hmac_key.encode("utf-8")[:32]), bytes(data))
    return bytes(data)


def default_results(info: ImpulseInfo) -> ResultFn:
    """Scores that move slowly from window to window and an anomaly score below 0."""
    def fn(index: int, values: np.ndarray) -> Tuple[Dict[str, float], Optional[float]]:
        n = len(info.labels)
        raw = np.array([1.0 + math.sin(0.9 * index + k) for k in range(n)]) ** 4 + 1e-3
        p = raw / raw.sum()
        # int8 softmax outputs are multiples of 1/256, as the quantized demo model's are
        scores = {lab: float(np.round(p[k] * 256) / 256) for k, lab in enumerate(info.labels)}
        return scores, (-0.3 + 0.05 * math.sin(index) if info.has_anomaly else None)
    return fn


@dataclass
class _Config:
    """The board's persistent configuration (its defaults as ``ei_config_init`` sets them)."""
    label: str = "test"
    interval_ms: float = 10.0
    length_ms: int = 10000
    hmac_key: str = "please-set-me"
    api_key: str = ""
    host: str = ""
    path: str = ""
    mgmt_url: str = ""
    ssid: str = ""
    password: str = ""
    security: int = 0


@dataclass
class Recorded:
    """What the emulator wrote into a file: the readings and the exact file bytes."""
    values: np.ndarray
    data: bytes
    interval_ms: float
    sensor: str


class AtFirmware:
    """The emulated board. ``start()`` plugs it in; the bridge opens ``device``."""

    def __init__(self, path: Optional[str] = None, *, device_id: str = "c4:7f:51:01:02:03",
                 device_type: str = "DISCO_L475VG_IOT01A", firmware: str = "current",
                 time_scale: float = 1.0, faults: Optional[Faults] = None,
                 impulse: Optional[ImpulseInfo] = None, results: Optional[ResultFn] = None,
                 accelerometer: Optional[Callable[[int, int, float], np.ndarray]] = None,
                 microphone: bool = True, microphone_source: Optional[MicrophoneFn] = None,
                 mic_padding: bool = False, seed: int = 0):
        if firmware not in FIRMWARE_FORMATS:
            raise ValueError(f"firmware must be one of {FIRMWARE_FORMATS}, got {firmware!r}")
        self.device_id = device_id
        self.device_type = device_type
        self.firmware = firmware
        self.time_scale = float(time_scale)
        self.impulse = impulse or ImpulseInfo()
        self.results = results or default_results(self.impulse)
        self.accelerometer = accelerometer or synthetic_accelerometer(seed)
        self.microphone = microphone
        self.microphone_source = microphone_source or synthetic_microphone()
        self.mic_padding = bool(mic_padding)
        self.config = _Config()
        self.files: Dict[str, bytes] = {}
        self.recorded: Dict[str, Recorded] = {}
        self.temp_buffer = b""
        self.link = PtyLink(path, self._on_input, faults, on_replug=self._boot)
        self.faults = self.link.faults
        self.commands: List[str] = []     # every command line the board ran
        self.breaks = 0                   # commands terminated with 'b'
        self.windows = 0                  # inference windows run
        self._counters: Dict[str, int] = {}
        self._buffer: List[str] = []
        self._lock = threading.Lock()
        self._busy = False
        self._cancel = threading.Event()
        self._worker: Optional[threading.Thread] = None
        self._sample_clock = 0            # readings taken so far (the synthetic source's time)
        self._in_escape = False

    # -- lifecycle ----------------------------------------------------------------------------
    @property
    def device(self) -> str:
        return self.link.device

    def start(self) -> "AtFirmware":
        self.link.plug()
        self._boot()
        return self

    def close(self) -> None:
        self._cancel.set()
        self.link.close()

    def __enter__(self) -> "AtFirmware":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    def unplug(self) -> None:
        self._cancel.set()
        self.link.unplug()

    def replug(self) -> None:
        self._cancel.set()
        self.link.replug()

    def _boot(self) -> None:
        """Power-up: the running command is gone, the REPL is fresh, label counters are
        rebuilt from the files in flash (``list_files_cb``), and the banner is printed."""
        self._cancel.set()
        with self._lock:
            self._busy = False
            self._buffer = []
            self._in_escape = False
        self._counters = {}
        for name in self.files:
            stem, _, num = name[len("/fs/"):].rpartition(".")
            if num.isdigit():
                self._counters[stem] = max(self._counters.get(stem, -1), int(num))
        try:
            self._print("\n\nHello from the Edge Impulse Device SDK.\n"
                        "Compiled on Jun 30 2026 at 12:00:00\n"
                        "Mounting file system: OK\n"
                        "Loaded configuration\n"
                        "Type AT+HELP to see a list of commands.\n")
            self.link.write(ST_PROMPT, raw=True)
        except LinkClosed:
            pass

    # -- output helpers -----------------------------------------------------------------------
    def _print(self, text: str) -> None:
        self.link.write(text.replace("\n", "\r\n").encode("utf-8", "replace"))

    def _out(self, text: str) -> None:
        """Output of the running command (stops the command once it was terminated)."""
        if self._cancel.is_set():
            raise _Cancelled()
        try:
            self._print(text)
        except LinkClosed:
            raise _Cancelled() from None

    def _sleep(self, ms: float) -> None:
        if self._cancel.wait(max(0.0, ms) * self.time_scale / 1000.0):
            raise _Cancelled()

    # -- input: the REPL ----------------------------------------------------------------------
    def _on_input(self, data: bytes) -> None:
        for byte in data:
            c = chr(byte)
            with self._lock:
                busy = self._busy
            if busy:
                if c == "b" and not self._cancel.is_set():
                    self._terminate()
                continue  # while a command runs, everything but 'b' is dropped
            self._repl_char(c)

    def _repl_char(self, c: str) -> None:
        w = self.link.write
        if self._in_escape:
            if c.isalpha():
                self._in_escape = False
                w(b"\x1b[u", raw=True)
            return
        if c == "\r":
            w(b"\r\n", raw=True)
            line, self._buffer = "".join(self._buffer), []
            self._run(line)
        elif c in ("\x08", "\x7f"):
            if self._buffer:
                self._buffer.pop()
                w(b"\x08 \x08", raw=True)
        elif c == "\x1b":
            self._in_escape = True
            w(b"\x1b[s", raw=True)
        else:
            self._buffer.append(c)
            w(c.encode("latin-1"), raw=True)

    def _terminate(self) -> None:
        """``b`` while a command runs: stop it; the prompt comes back when the REPL restarts."""
        self.breaks += 1
        self._cancel.set()
        worker = self._worker

        def restart() -> None:
            time.sleep(0.2 * self.time_scale)  # the firmware's first 200 ms poll
            if worker is not None:
                worker.join(2.0 * max(self.time_scale, 0.05))
            with self._lock:
                self._busy = False
            try:
                self.link.write(ST_PROMPT, raw=True)
            except LinkClosed:
                pass

        threading.Thread(target=restart, daemon=True).start()

    def _run(self, line: str) -> None:
        self.commands.append(line)
        if len(line) > 255:
            self._print("Command is too long (max. length 255)\n")
            self.link.write(b"> ", raw=True)
            return
        with self._lock:
            self._busy = True
        self._cancel = threading.Event()
        cancel = self._cancel

        def work() -> None:
            try:
                self._handle(line)
            except (_Cancelled, LinkClosed):
                return
            except Exception:  # pragma: no cover - an emulator bug must be visible
                log.exception("emulator: command %r failed", line)
            if cancel.is_set():
                return
            with self._lock:
                self._busy = False
            try:
                self.link.write(ST_PROMPT, raw=True)
            except LinkClosed:
                pass

        self._worker = threading.Thread(target=work, name="emulator-at-cmd", daemon=True)
        self._worker.start()

    # -- command parsing (ei_at_cmd_handle) ---------------------------------------------------
    @staticmethod
    def parse(cmd_in: str) -> Tuple[str, Optional[List[str]]]:
        """(stripped command, [name, args...]) or (stripped, None) when not an AT command."""
        cmd = cmd_in.rstrip("\r\n ")
        if len(cmd) < 4 or not cmd.startswith("AT+"):
            return cmd, None
        body = cmd[3:]
        args: List[str] = []
        start = 0
        first = True
        for ix in range(len(body) + 1):
            at_end = ix == len(body)
            valid = at_end or (first and body[ix] in "=?") or (not first and body[ix] == ",")
            if not valid:
                continue
            extra = 1 if first and not at_end else 0
            lo, hi = start, ix + extra
            if ix >= 1 and body[ix - 1] == '"' and start < len(body) and body[start] == '"' \
                    and ix - start >= 2:
                lo, hi = start + 1, ix + extra - 1
            piece = body[lo:hi]
            args.append(piece)
            start = ix + 1
            if at_end and piece == "":
                args.pop()
            first = False
            if len(args) > 10:
                break
        return cmd, args

    def _handle(self, line: str) -> None:
        cmd, args = self.parse(line)
        if not args:
            self._out(f"Not a valid AT command ({cmd})\n")
            return
        handler = self._handlers().get((args[0], len(args) - 1))
        if handler is None:
            self._out(f"No handler for AT command ({cmd})\n")
            return
        handler(*args[1:])

    def _handlers(self) -> Dict[Tuple[str, int], Callable[..., None]]:
        return {
            ("HELP", 0): self._help,
            ("CLEARCONFIG", 0): self._clear_config,
            ("CLEARFILES", 0): self._clear_files,
            ("CONFIG?", 0): self._config,
            ("DEVICEINFO?", 0): self._device_info,
            ("SENSORS?", 0): self._sensors,
            ("RESET", 0): self._reset,
            ("WIFI?", 0): self._wifi,
            ("WIFI=", 3): self._set_wifi,
            ("SCANWIFI", 0): lambda: self._out("Failed to scan for WiFi networks\n"),
            ("SAMPLESETTINGS?", 0): self._sample_settings,
            ("SAMPLESETTINGS=", 3): self._set_sample_settings,
            ("SAMPLESETTINGS=", 4): self._set_sample_settings,
            ("UPLOADSETTINGS?", 0): self._upload_settings,
            ("UPLOADSETTINGS=", 2): self._set_upload_settings,
            ("UPLOADHOST=", 1): self._set_upload_host,
            ("MGMTSETTINGS?", 0): self._mgmt_settings,
            ("MGMTSETTINGS=", 1): self._set_mgmt,
            ("LISTFILES", 0): self._list_files,
            ("READFILE=", 1): self._read_file,
            ("READBUFFER=", 2): self._read_buffer,
            ("UNLINKFILE=", 1): self._unlink_file,
            ("UPLOADFILE=", 1): lambda name: self._out("Not connected to WiFi, cannot upload\n"),
            ("SAMPLESTART=", 1): self._sample_start,
            ("FILLMEMORY", 0): lambda: self._out("Allocated: 65536 bytes\n"),
            ("RUNIMPULSE", 0): lambda: self._run_impulse(False),
            ("RUNIMPULSEDEBUG", 0): lambda: self._run_impulse(True),
        }

    # -- configuration commands ---------------------------------------------------------------
    _HELP = (
        ("HELP", "Lists all commands", 0),
        ("CLEARCONFIG", "Clears complete config and resets system", 0),
        ("CLEARFILES", "Clears all files from the file system, this does not clear config", 0),
        ("CONFIG?", "Lists complete config", 0),
        ("DEVICEINFO?", "Lists device information", 0),
        ("SENSORS?", "Lists sensors", 0),
        ("RESET", "Reset the system", 0),
        ("WIFI?", "Lists current WiFi credentials", 0),
        ("WIFI=", "Sets current WiFi credentials (SSID,PASSWORD,SECURITY)", 3),
        ("SCANWIFI", "Scans for WiFi networks", 0),
        ("SAMPLESETTINGS?", "Lists current sampling settings", 0),
        ("SAMPLESETTINGS=", "Sets current sampling settings (LABEL,INTERVAL_MS,LENGTH_MS)", 3),
        ("SAMPLESETTINGS=", "Sets current sampling settings (LABEL,INTERVAL_MS,LENGTH_MS,"
                            "HMAC_KEY)", 4),
        ("UPLOADSETTINGS?", "Lists current upload settings", 0),
        ("UPLOADSETTINGS=", "Sets current upload settings (APIKEY,PATH)", 2),
        ("UPLOADHOST=", "Sets upload host (HOST)", 1),
        ("MGMTSETTINGS?", "Lists current management settings", 0),
        ("MGMTSETTINGS=", "Sets current management settings (URL)", 1),
        ("LISTFILES", "Lists all files on the device", 0),
        ("READFILE=", "Read a specific file (as base64)", 1),
        ("READBUFFER=", "Read from the temporary buffer (as base64) (START,LENGTH)", 2),
        ("UNLINKFILE=", "Unlink a specific file", 1),
        ("UPLOADFILE=", "Upload a specific file", 1),
        ("SAMPLESTART=", "Start sampling", 1),
        ("FILLMEMORY", "Try and fill the full RAM, to report free heap stats", 0),
        ("RUNIMPULSE", "Run the impulse", 0),
        ("RUNIMPULSEDEBUG", "Run the impulse with debug messages", 0),
    )

    def _help(self) -> None:
        out = []
        for name, desc, n in self._HELP:
            extra = "" if n == 0 else (" (1 parameter)" if n == 1 else f" ({n} parameters)")
            out.append(f"AT+{name} - {desc}{extra}\n")
        self._out("".join(out))

    def _clear_config(self) -> None:
        self._out("Clearing config and restarting system...\n")
        self.config = _Config()
        self._reset()

    def _reset(self) -> None:
        # NVIC_SystemReset: the board reboots (the USB link stays, the banner is printed)
        threading.Thread(target=self._boot, daemon=True).start()
        raise _Cancelled()

    def _clear_files(self) -> None:
        self._out("Clearing file system...\n")
        for name in list(self.files):
            del self.files[name]
            self._out(f"Unlinked '{name}'\n")

    def _device_info_text(self) -> str:
        return (f"ID:         {self.device_id}\n"
                f"Type:       {self.device_type}\n"
                f"AT Version: {AT_VERSION}\n")

    def _device_info(self) -> None:
        self._out(self._device_info_text())

    def _sensor_text(self) -> str:
        text = "Name: Built-in accelerometer, Max sample length: 300s, Frequencies: " \
               "[62.50Hz, 100.00Hz]\n"
        if self.microphone:
            text += "Name: Built-in microphone, Max sample length: 60s, Frequencies: " \
                    "[16000.00Hz]\n"
        return text

    def _sensors(self) -> None:
        self._out(self._sensor_text())

    def _wifi_text(self) -> str:
        c = self.config
        return (f"Present:   1\nSSID:      {c.ssid}\nPassword:  {c.password}\n"
                f"Security:  {c.security}\nMAC:       {self.device_id}\nConnected: 0\n")

    def _wifi(self) -> None:
        self._out(self._wifi_text())

    def _set_wifi(self, ssid: str, password: str, security: str) -> None:
        self.config.ssid, self.config.password = ssid, password
        self.config.security = _atoi(security)
        self._out("OK\n")

    def _sample_text(self) -> str:
        c = self.config
        return (f"Label:     {c.label}\nInterval:  {c.interval_ms:.2f} ms.\n"
                f"Length:    {c.length_ms} ms.\nHMAC key:  {c.hmac_key}\n")

    def _sample_settings(self) -> None:
        self._out(self._sample_text())

    def _set_sample_settings(self, label: str, interval: str, length: str,
                             hmac_key: Optional[str] = None) -> None:
        if len(label) > 127 or (hmac_key is not None and len(hmac_key) > 32):
            self._out("Failed to persist sampling settings (-1)\n")
            return
        self.config.label = label
        self.config.interval_ms = float(np.float32(_atof(interval)))
        self.config.length_ms = _atoi(length) & 0xFFFFFFFF
        if hmac_key is not None:
            self.config.hmac_key = hmac_key
        self._out("OK\n")

    def _upload_text(self) -> str:
        c = self.config
        return f"Api Key:   {c.api_key}\nHost:      {c.host}\nPath:      {c.path}\n"

    def _upload_settings(self) -> None:
        self._out(self._upload_text())

    def _set_upload_settings(self, api_key: str, path: str) -> None:
        self.config.api_key, self.config.path = api_key, path
        self._out("OK\n")

    def _set_upload_host(self, host: str) -> None:
        self.config.host = host
        self._out("OK\n")

    def _mgmt_text(self) -> str:
        return f"URL:        {self.config.mgmt_url}\nConnected:  0\nLast error: \n"

    def _mgmt_settings(self) -> None:
        self._out(self._mgmt_text())

    def _set_mgmt(self, url: str) -> None:
        self.config.mgmt_url = url
        self._out("OK\n")

    def _config(self) -> None:
        self._out("===== Device info =====\n" + self._device_info_text() + "\n"
                  "===== Sensors ======\n" + self._sensor_text() + "\n"
                  "===== WIFI =====\n" + self._wifi_text() + "\n"
                  "===== Sampling parameters =====\n" + self._sample_text() + "\n"
                  "===== Upload settings =====\n" + self._upload_text() + "\n"
                  "===== Remote management =====\n" + self._mgmt_text() + "\n")

    # -- files --------------------------------------------------------------------------------
    def _list_files(self) -> None:
        self._out("".join(f"{name}\n" for name in self.files))

    @staticmethod
    def _base64_blocks(data: bytes) -> str:
        """The firmware's AT+READFILE encoding: every 513-byte block base64'd on its own."""
        return "".join(base64.b64encode(data[i:i + 513]).decode("ascii")
                       for i in range(0, len(data), 513))

    def _read_file(self, name: str) -> None:
        data = self.files.get(name)
        if data is None:
            self._out(f"File '{name}' does not exist\n")
            return
        self._out(self._base64_blocks(data) + "\n")

    def _read_buffer(self, start_s: str, length_s: str) -> None:
        start, length = _atoi(start_s), _atoi(length_s)
        if start < 0 or length < 0 or start + length > max(len(self.temp_buffer), 1 << 20):
            self._out("Failed to read from buffer\n")
            return
        data = self.temp_buffer[start:start + length]
        data += b"\xff" * (length - len(data))  # erased flash past what was written
        self._out(self._base64_blocks(data) + "\n")

    def _unlink_file(self, name: str) -> None:
        if self.files.pop(name, None) is None:
            self._out(f"File '{name}' could not be unlinked\n")
        else:
            self._out("\n")

    def _unused_filename(self, label: str) -> str:
        n = self._counters.get(label)
        n = 0 if n is None else n + 1
        self._counters[label] = n
        return f"/fs/{label}.{n}"

    # -- sampling -----------------------------------------------------------------------------
    def _readings(self, n: int, interval_ms: float) -> np.ndarray:
        values = np.asarray(self.accelerometer(self._sample_clock, n, interval_ms),
                            dtype=np.float32).reshape(n, 3)
        self._sample_clock += n
        return values

    def _store_accelerometer_file(self, name: str, values: np.ndarray,
                                  interval_ms: float) -> None:
        """Write accelerometer ``values`` to the file ``name`` as ``sensor_aq`` does (signed
        with the board's HMAC key) and keep them in :attr:`recorded`."""
        doc = DataAcquisition(device_name=self.device_id, device_type=self.device_type,
                              interval_ms=float(np.float32(interval_ms)),
                              sensors=[Sensor("accX", "m/s2"), Sensor("accY", "m/s2"),
                                       Sensor("accZ", "m/s2")],
                              values=values.astype(np.float64), alg="HS256")
        # the firmware copies at most 32 bytes of the key into its signing context
        data = encode_cbor(doc, self.config.hmac_key.encode("utf-8")[:32])
        self.files[name] = data
        self.recorded[name] = Recorded(values, data, interval_ms, ACCELEROMETER)

    def _sample_start(self, sensor: str) -> None:
        if sensor == ACCELEROMETER:
            self._sample_accelerometer()
        elif sensor == MICROPHONE and self.microphone:
            self._sample_microphone()
        else:
            self._out(f"Failed to find sensor '{sensor}' in the sensor list\n")

    def _sample_accelerometer(self) -> None:
        c = self.config
        if c.interval_ms < 10.0:
            c.interval_ms = 10.0
        self._out(f"Sampling settings:\n\tInterval: {c.interval_ms:.2f} ms.\n"
                  f"\tLength: {c.length_ms} ms.\n\tName: {c.label}\n\tHMAC Key: {c.hmac_key}\n")
        name = self._unused_filename(c.label)
        self._out(f"\tFile name: {name}\n")
        self._out("Starting in 2000 seconds...\n")
        self._sleep(2000)
        self._out("Sampling...\n")
        n = max(1, math.ceil(c.length_ms / c.interval_ms))
        values = self._readings(n, c.interval_ms)
        self._sleep(c.length_ms + 100)
        self._store_accelerometer_file(name, values, c.interval_ms)
        self._out(f"Done sampling\nTotal samples collected: {n}\n")
        self._out("Not uploading file, not connected to WiFi\n")
        self._out("OK\n")

    def _sample_microphone(self) -> None:
        c = self.config
        c.interval_ms = float(np.float32(1000.0 / 16000.0))
        self._out(f"Sampling settings:\n\tInterval: {c.interval_ms:.5f} ms.\n"
                  f"\tLength: {c.length_ms} ms.\n\tName: {c.label}\n\tHMAC Key: {c.hmac_key}\n")
        name = f"/fs/{c.label}"
        self._out(f"\tFile name: {name}\n")
        self._out("Starting in 2000 ms... (or until all flash was erased)\n")
        self._sleep(2000)
        self._out("Sampling...\n")
        # max_audio_event_count = length_ms events of 1 ms (16 samples); anything over that
        # is cut from the file
        n = int(c.length_ms) * (MIC_RATE // 1000)
        pcm = np.asarray(self.microphone_source(self._sample_clock, n), dtype=np.int16)
        if pcm.shape != (n,):
            raise ValueError(f"microphone source gave {pcm.shape} samples, wanted ({n},)")
        self._sample_clock += n
        self._sleep(c.length_ms)
        data = microphone_file(pcm, self.device_id, self.device_type, c.hmac_key,
                               self.mic_padding)
        self.temp_buffer = data
        self.recorded[name] = Recorded(pcm, data, c.interval_ms, MICROPHONE)
        self._out(f"Done sampling, total bytes collected: {len(data)}\n")
        self._out("[1/1] Uploading file to Edge Impulse...\n")
        self._out(f"Not uploading file, not connected to WiFi. Used buffer, from=0, "
                  f"to={len(data)}.\n")
        self._out("[1/1] Uploading file to Edge Impulse OK (took 0 ms.)\n")
        self._out("OK\n")

    # -- inference ----------------------------------------------------------------------------
    def _result_text(self, scores: Dict[str, float], anomaly: Optional[float]) -> str:
        dsp, nn, an = self.impulse.timing_us
        if self.firmware == "current":
            def t(name: str, us: int) -> str:
                return f"{name} {us} us" if 0 < us < 1000 else f"{name} {us // 1000} ms"
            text = f"Timing: {t('DSP', dsp)}, {t('inference', nn)}, {t('anomaly', an)}\n"
            text += "#Classification predictions:\n"
            text += "".join(f"  {k}: {v:.6f}\n" for k, v in scores.items())
            if anomaly is not None:
                text += f"Anomaly prediction: {anomaly:.6f}\n"
            return text
        text = (f"Predictions (DSP: {dsp // 1000} ms., Classification: {nn // 1000} ms., "
                f"Anomaly: {an // 1000} ms.): \n")
        if self.firmware == "2020":
            text += "".join(f"    {k}: {v:.5f}\n" for k, v in scores.items())
            if anomaly is not None:
                text += f"    anomaly score: {anomaly:.3f}\n"
            return text
        text += "#Classification results:\n"
        text += "".join(f"    {k}: {v:.6f}\n" for k, v in scores.items())
        if anomaly is not None:
            text += f"Anomaly prediction: {anomaly:.3f}\n"
        return text

    def _run_impulse(self, debug: bool) -> None:
        imp = self.impulse
        frame = imp.window_samples * 3
        self._out(f"Inferencing settings:\n\tInterval: {imp.interval_ms:.2f} ms.\n"
                  f"\tFrame size: {frame}\n\tSample length: {imp.window_ms:.0f} ms.\n"
                  f"\tNo. of classes: {len(imp.labels)}\n"
                  "Starting inferencing, press 'b' to break\n")
        while True:
            name = self._unused_filename("device-classification")
            self._out(f"Sampling... Storing in file name: {name}\n")
            values = self._readings(imp.window_samples, imp.interval_ms)
            self._sleep(imp.window_ms)
            if debug:
                self._out("Features (1 ms.): " + " ".join("0.000000" for _ in range(3)) + "\n")
            scores, anomaly = self.results(self.windows, values)
            self.windows += 1
            self._out(self._result_text(scores, anomaly))
            self._store_accelerometer_file(name, values, imp.interval_ms)
            self._out(f"Finished inferencing, raw data is stored in '{name}'. Use "
                      "AT+UPLOADFILE to send back to Edge Impulse.\n")
            self._out("Starting inferencing in 2 seconds...\n")
            self._sleep(2000)


def _atoi(text: str) -> int:
    """C ``atoi``: leading whitespace, optional sign, digits; 0 when there are none."""
    s = text.lstrip()
    i = 0
    if i < len(s) and s[i] in "+-":
        i += 1
    j = i
    while j < len(s) and s[j].isdigit():
        j += 1
    return int(s[:j]) if j > i else 0


def _atof(text: str) -> float:
    """C ``atof`` on the longest numeric prefix; 0.0 when there is none."""
    s = text.strip()
    for end in range(len(s), 0, -1):
        try:
            return float(s[:end])
        except ValueError:
            continue
    return 0.0
