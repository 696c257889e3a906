"""``edgert bridge``: boards on serial ports -> results on stdout, anomalies -> the outbox.

Hooked into the ``edgert`` command by a ``register(subparsers)`` call (see
``edgert/cli/commands/bridge.py``).
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time
from typing import List, Optional

log = logging.getLogger("edgert.bridge")

__all__ = ["register", "cmd_bridge"]

HELP = """\
Connect boards on USB serial ports to edgert.

AT mode (default): the board runs Edge Impulse firmware (e.g. the DISCO-L475VG-IOT01A) and its
own impulse; the bridge starts the inference loop (AT+RUNIMPULSE) and prints one line per
result. With --upload, every window whose anomaly score exceeds --anomaly-threshold is read
back from the board (the raw-data file the firmware names), queued in a durable outbox for
/api/anomaly/data, removed from the board, and inference resumes; the pause is reported.

Forwarder mode (--forwarder): the board prints one reading per line (values separated by ",",
TAB or spaces, as for Edge Impulse's data forwarder); the bridge classifies the stream on the
host with the impulse BUNDLE, one result per window increase.

Sampling (--sample): record SENSOR on the board, read the data-acquisition document back,
verify its signature, and save it (CBOR, as the board wrote it).

--port may be repeated: one reader per board; every line and upload is tagged with the port
and the board's id, and a board that hangs, garbles or is unplugged does not stall the others.
An unplugged board is reopened when it comes back (use a stable /dev/serial/by-id/ path).
Ctrl-C or SIGTERM stops the boards' loops with 'b', closes the outbox (queued samples are kept
for the next run) and prints a summary on stderr (with --json also as the last stdout line,
{"summary": ...}).

Try it without hardware: python -m firmware_bridge.emulator --link /tmp/ttyEI0
(see docs/bridge.md).

examples:
  edgert bridge --list
  edgert bridge --port /dev/ttyACM0
  edgert bridge --port /dev/ttyACM0 --port /dev/ttyACM1 --json
  edgert bridge --port /dev/ttyACM0 --upload https://ingestion.edgeimpulse.com \\
      --api-key ei_... --anomaly-threshold 0.3 --db bridge-outbox.db
  edgert bridge --port /dev/ttyUSB0 --forwarder --bundle examples/motion-demo \\
      --axes accX,accY,accZ --frequency 62.5 --json
  edgert bridge --port /dev/ttyACM0 --sample accelerometer --label wave --length-ms 10000 \\
      --output wave.cbor
"""

DEFAULT_DB = "edgert-bridge-outbox.db"


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("bridge", help="serial boards: run, forward, sample, upload "
                              "anomalies", description=HELP,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--port", action="append", default=[], metavar="PORT",
                   help="serial device of a board (repeatable)")
    p.add_argument("--list", action="store_true",
                   help="list the serial ports that look like boards and exit")
    p.add_argument("--json", action="store_true",
                   help="one JSON object per result line (and for --list/--sample)")
    g = p.add_argument_group("forwarder mode")
    g.add_argument("--forwarder", action="store_true",
                   help="the board prints readings; classify them on the host")
    g.add_argument("--bundle", metavar="B", help="impulse bundle for --forwarder")
    g.add_argument("--axes", metavar="a,b,c",
                   help="names of the board's columns (default: the impulse's axes)")
    g.add_argument("--frequency", type=float, metavar="HZ",
                   help="the board's reading rate (default: detected, as the data forwarder "
                   "does)")
    g.add_argument("--variant", choices=("float32", "int8"), help="model variant to run")
    g.add_argument("--device", metavar="NAME",
                   help="device name for uploads (default: the USB serial number or port)")
    u = p.add_argument_group("anomaly uploads")
    u.add_argument("--upload", metavar="URL",
                   help="ingestion service to send anomalous windows to (/api/anomaly/data)")
    u.add_argument("--api-key", metavar="KEY", help="x-api-key (default $EDGERT_API_KEY)")
    u.add_argument("--hmac-key", metavar="KEY",
                   help="AT mode: checks the board's signature; forwarder: signs the "
                   "documents (default $EDGERT_HMAC_KEY)")
    u.add_argument("--anomaly-threshold", type=float, default=0.3, metavar="X",
                   help="upload windows whose anomaly score is above X (0.3)")
    u.add_argument("--db", default=DEFAULT_DB, metavar="PATH",
                   help=f"outbox file (SQLite; {DEFAULT_DB}); kept across runs")
    s = p.add_argument_group("sampling")
    s.add_argument("--sample", metavar="SENSOR",
                   help="sensor to record (a name from AT+CONFIG?, e.g. accelerometer)")
    s.add_argument("--label", metavar="L", help="label of the recording")
    s.add_argument("--length-ms", type=int, metavar="N", help="recording length")
    s.add_argument("--interval-ms", type=float, metavar="MS",
                   help="sampling interval (default: the sensor's first frequency)")
    s.add_argument("--output", metavar="FILE", help="where to save the document")
    o = p.add_argument_group("operation")
    o.add_argument("--duration", type=float, metavar="S", help="stop after S seconds")
    o.add_argument("--hang-timeout", type=float, metavar="S",
                   help="reopen a board silent for S seconds (AT: 3 windows, at least 10 s; "
                   "forwarder: 20 readings, at least 2 s)")
    o.add_argument("--no-reconnect", action="store_true",
                   help="a board that fails is given up instead of reopened")
    o.add_argument("--debug-impulse", action="store_true",
                   help="AT mode: AT+RUNIMPULSEDEBUG instead of AT+RUNIMPULSE")
    o.add_argument("--baudrate", type=int, default=115200, help="(115200)")
    p.set_defaults(func=cmd_bridge)


def _usage(message: str) -> int:
    log.error("%s (see `edgert bridge --help`)", message)
    return 2


def _check_args(args: argparse.Namespace) -> Optional[str]:
    if args.list:
        return None
    if not args.port:
        return "give a board with --port PORT (or --list to see the ports)"
    if len(set(args.port)) != len(args.port):
        return "a port is given twice"
    if args.sample is not None:
        if args.forwarder:
            return "--sample is for boards with Edge Impulse firmware, not --forwarder"
        missing = [f for f, v in (("--label", args.label), ("--length-ms", args.length_ms),
                                  ("--output", args.output)) if v is None]
        if missing:
            return f"--sample needs {', '.join(missing)}"
        if len(args.port) != 1:
            return "--sample records from one board: give one --port"
        if args.length_ms <= 0:
            return "--length-ms must be positive"
    elif args.label or args.length_ms or args.output:
        return "--label/--length-ms/--output go with --sample"
    if args.forwarder and not args.bundle:
        return "--forwarder needs --bundle (the impulse that classifies the readings)"
    if not args.forwarder and (args.bundle or args.axes or args.frequency or args.variant):
        return "--bundle/--axes/--frequency/--variant go with --forwarder"
    if args.frequency is not None and args.frequency <= 0:
        return "--frequency must be positive"
    if args.upload is None and args.api_key:
        return "--api-key goes with --upload URL"
    if args.duration is not None and args.duration <= 0:
        return "--duration must be positive"
    return None


def _axes(text: Optional[str]) -> Optional[List[str]]:
    if text is None:
        return None
    names = [a.strip() for a in text.split(",")]
    if not all(names) or len(set(names)) != len(names):
        from edgert.errors import ConfigurationError
        raise ConfigurationError(f"--axes must be distinct, non-empty names separated by "
                                 f"commas, got {text!r}")
    return names


def cmd_bridge(args: argparse.Namespace) -> int:
    problem = _check_args(args)
    if problem:
        return _usage(problem)
    if args.list:
        return _list(args)
    for port in args.port:
        if not os.path.exists(port):
            log.error("%s: no such serial port; `edgert bridge --list` shows the boards "
                      "connected", port)
            return 1
    if args.sample is not None:
        return _sample(args)
    return _run(args)


def _list(args: argparse.Namespace) -> int:
    from .ports import list_board_ports

    ports = list_board_ports()
    if args.json:
        json.dump({"ports": [p.to_dict() for p in ports]}, sys.stdout)
        sys.stdout.write("\n")
        return 0
    if not ports:
        sys.stderr.write("edgert: no serial ports that look like boards (ST-LINK or USB "
                         "CDC-ACM); is the board plugged in, and may you open it (group "
                         "dialout)?\n")
        return 0
    for p in ports:
        sys.stdout.write(f"{p.device}  {p.vid_pid}  {p.kind:7s}  {p.description}"
                         + (f"  serial {p.serial_number}" if p.serial_number else "") + "\n")
    return 0


def _sample(args: argparse.Namespace) -> int:
    from edgert.errors import EdgertError

    from .at_client import AtClient, AtError
    from .ports import Disconnected, SerialLink

    link = SerialLink(args.port[0], args.baudrate)
    hmac_key = args.hmac_key or os.environ.get("EDGERT_HMAC_KEY")
    bar = None
    try:
        link.open()
        client = AtClient(link)
        client.connect()
        cfg = client.read_config()
        try:
            sensor = cfg.sensor(args.sample)
        except KeyError as exc:
            log.error("%s", exc.args[0])
            return 1
        bar = _sampling_bar(args.length_ms, getattr(args, "quiet", False))
        started = time.monotonic()

        def on_line(line: str) -> None:
            log.debug("board: %s", line)
            if bar is not None and line.startswith("Sampling..."):
                bar.set_description("sampling")
            if bar is not None:
                bar.n = min(bar.total, int((time.monotonic() - started) * 1000))
                bar.refresh()

        result = client.sample(sensor.name, args.label, args.length_ms, args.interval_ms,
                               hmac_key, on_line=on_line)
    except (AtError, ValueError, EdgertError) as exc:
        log.error("%s: %s", args.port[0], exc)
        return 1
    except Disconnected as exc:
        log.error("%s (the board went away while sampling)", exc)
        return 1
    except KeyboardInterrupt:
        try:
            client.stop_running(timeout=5.0)    # leave the board at its prompt
        except (AtError, Disconnected, NameError):
            pass
        log.error("interrupted; the recording was not saved")
        return 130
    finally:
        if bar is not None:
            bar.close()
        link.close()
    with open(args.output, "wb") as f:
        f.write(result.data)
    doc = result.document
    info = {"output": os.path.abspath(args.output), "port": args.port[0],
            "device": cfg.device_id, "sensor": result.sensor, "board_file": result.filename,
            "bytes": len(result.data), "samples": doc.n_samples, "axes": doc.axis_names,
            "interval_ms": doc.interval_ms, "signature_valid": result.signature_valid}
    if args.json:
        json.dump(info, sys.stdout)
        sys.stdout.write("\n")
    else:
        sig = {True: "signature verified", False: "signature INVALID",
               None: "not signed"}[result.signature_valid]
        sys.stdout.write(f"{args.output}: {doc.n_samples} samples of {', '.join(doc.axis_names)}"
                         f" at {doc.frequency:g} Hz from {cfg.device_id} ({sig})\n")
    return 0


def _sampling_bar(length_ms: int, quiet: bool):
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover
        return None
    return tqdm(total=length_ms + 2000, unit="ms", desc="starting",
                disable=quiet or not sys.stderr.isatty())


def _run(args: argparse.Namespace) -> int:
    import numpy as np

    from edgert.errors import EdgertError

    from .capture import AnomalyUploader
    from .runner import AtBoardWorker, Bridge, ForwarderWorker, OutputSink

    axes = _axes(args.axes)
    impulse = None
    if args.forwarder:
        from edgert import Impulse

        impulse = Impulse.load(args.bundle)
        # load the models once, before several board threads use them
        impulse.classify(np.zeros((impulse.window_samples, len(impulse.axes)),
                                  dtype=np.float32), variant=args.variant)

    outbox = None
    uploader = None
    if args.upload:
        from edgert.ingestion import IngestionClient, Outbox

        api_key = args.api_key or os.environ.get("EDGERT_API_KEY") or \
            os.environ.get("EI_API_KEY")
        if not api_key:
            return _usage("--upload needs --api-key KEY (or $EDGERT_API_KEY)")
        hmac_key = args.hmac_key or os.environ.get("EDGERT_HMAC_KEY")
        outbox = Outbox(args.db, IngestionClient(args.upload, api_key))
        outbox.start()
        uploader = AnomalyUploader(outbox, args.anomaly_threshold, hmac_key)

    stop = threading.Event()
    sink = OutputSink(sys.stdout, json_lines=args.json, on_closed=stop.set)
    common = dict(uploader=uploader, hang_timeout=args.hang_timeout, baudrate=args.baudrate,
                  reconnect=not args.no_reconnect)
    workers = []
    for port in args.port:
        if args.forwarder:
            workers.append(ForwarderWorker(port, sink, stop, impulse, axes=axes,
                                           frequency=args.frequency, variant=args.variant,
                                           device=args.device, **common))
        else:
            workers.append(AtBoardWorker(port, sink, stop, debug=args.debug_impulse, **common))
    bridge = Bridge(workers, stop)

    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        bridge.start()
        bridge.wait(args.duration)
    finally:
        bridge.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        outbox_status = None
        if outbox is not None:
            try:
                outbox.flush(timeout=2.0)   # a short chance to deliver; the rest stays queued
                outbox_status = outbox.status().to_dict()
            except EdgertError as exc:
                log.warning("outbox: %s", exc)
            outbox.close()
    summary = bridge.summary()
    if outbox_status is not None:
        summary["outbox"] = {k: outbox_status[k] for k in
                             ("pending", "inflight", "sent", "dead_lettered", "last_error")
                             if k in outbox_status}
        summary["outbox"]["path"] = os.path.abspath(args.db)
    _print_summary(summary)
    if args.json:
        sink.emit({"summary": summary}, "")
    failed = [b for b in summary["boards"] if b["error"]]
    return 1 if failed and len(failed) == len(summary["boards"]) else 0


def _print_summary(summary: dict) -> None:
    for b in summary["boards"]:
        gaps = b["gaps_s"]
        gap_text = (f"{len(gaps)} gap(s) ({', '.join(f'{g:.1f}' for g in gaps[:5])} s)"
                    if gaps else "no gaps")
        text = (f"{os.path.basename(b['port'])} ({b['device'] or '-'}): {b['windows']} windows, "
                f"{gap_text}, {b['garbled_lines']} garbled lines, {b['uploads_queued']} "
                f"uploads queued")
        if b["capture_gaps_s"]:
            cg = b["capture_gaps_s"]
            text += f", capture pauses {min(cg):.2f}-{max(cg):.2f} s"
        if b["hangs"] or b["disconnects"]:
            text += f", {b['hangs']} hang(s), {b['disconnects']} disconnect(s)"
        if b["error"]:
            text += f"; FAILED: {b['error']}"
        sys.stderr.write(f"edgert: summary: {text}\n")
    ob = summary.get("outbox")
    if ob:
        sys.stderr.write(f"edgert: summary: outbox {ob['path']}: {ob['sent']} sent, "
                         f"{ob['pending'] + ob['inflight']} still queued, "
                         f"{ob['dead_lettered']} dead-lettered\n")
    sys.stderr.flush()
