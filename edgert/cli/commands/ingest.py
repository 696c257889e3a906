"""``edgert ingest``: serve the ingestion API locally, upload files through the durable outbox,
inspect and repair an outbox."""
from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from typing import Any, List, Optional

from ...errors import ConfigurationError

log = logging.getLogger("edgert.ingest")

DEFAULT_URL = "https://ingestion.edgeimpulse.com"
DEFAULT_OUTBOX = "edgert-outbox.db"

HELP = """\
Upload samples to an Edge Impulse ingestion service (or to `edgert ingest serve`) through a
durable outbox that never loses an accepted sample, and serve the same API locally.

actions:
  serve     run the ingestion endpoints locally, storing samples in SQLite
  upload    queue files in the outbox and send them (CSV converted to data acquisition)
  status    an outbox's queue, counters and dead letters
  requeue   move dead letters back to the queue (after fixing the cause)

The API key comes from --api-key or $EDGERT_API_KEY (also $EI_API_KEY); the HMAC key of
`serve` from --hmac-key or $EDGERT_HMAC_KEY.

examples:
  edgert ingest serve --port 4810 --db samples.db --api-key ei_local --hmac-key secret
  edgert ingest upload wave.01.cbor idle.*.json --category training \\
      --url http://127.0.0.1:4810 --api-key ei_local
  edgert ingest upload recording.cbor --category anomaly --label fault --no-wait
  edgert ingest status --outbox edgert-outbox.db --dead
  edgert ingest requeue --outbox edgert-outbox.db          # all dead letters
"""

SERVE_HELP = """\
Run the ingestion endpoints (POST /api/{training,testing,anomaly}/{data,files}) on HOST:PORT,
storing samples in the SQLite database DB with their signature checked against the HMAC key.
Status codes as upstream: 200 stored, 400 invalid (message in the body), 401 API key, 421
missing x-file-name, 413 over the per-file limit. Documents whose HS256 signature does not
match are stored marked invalid (as upstream) unless --reject-bad-signatures is given.
Stops on Ctrl-C / SIGTERM.

examples:
  edgert ingest serve --port 4810 --db samples.db --api-key ei_local --hmac-key secret
  edgert ingest serve --port 0 --json      # pick a free port, print {"url": ...} on stdout
"""

UPLOAD_HELP = """\
Enqueue FILEs in the outbox, then wait until they are delivered. Data-acquisition documents
(JSON/CBOR) are sent as they are; a CSV recording (timestamp in ms, then one column per axis)
is converted to a data-acquisition JSON document first (named <name>.json; signed with
--hmac-key, else alg none). Every file is read before anything is queued: a directory, an
unreadable file or a malformed CSV stops the upload with nothing queued.

Transient failures (server down, 5xx, 429) are retried with backoff, and each new reason is
shown; permanent ones (bad key, invalid file) are dead-lettered with the server's reason.
Files already in the outbox are not queued twice. What is not delivered when --timeout
expires (or when you press Ctrl-C) stays in the outbox for the next run. A summary at the end
says what was sent, dead-lettered and left queued.

exit status: 0 all delivered, 1 some dead-lettered, 3 still queued at the timeout.

examples:
  edgert ingest upload *.cbor --category training --api-key ei_...
  edgert ingest upload a.json recording.csv --category testing --url http://127.0.0.1:4810
"""


def _api_key(args: argparse.Namespace) -> str:
    key = args.api_key or os.environ.get("EDGERT_API_KEY") or os.environ.get("EI_API_KEY")
    if not key:
        raise ConfigurationError("no API key: pass --api-key or set EDGERT_API_KEY")
    return key


def _number(text: str, ok, what: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not ok(v):
        raise argparse.ArgumentTypeError(f"must be {what}, got {text}")
    return v


def _non_negative(text: str) -> float:
    return _number(text, lambda v: 0 <= v < float("inf"), ">= 0 (seconds)")


def _positive(text: str) -> float:
    return _number(text, lambda v: 0 < v < float("inf"), "> 0 (seconds)")


def _port(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 <= n <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 0..65535 (0: any free port), got {n}")
    return n


def register(subparsers: argparse._SubParsersAction) -> None:
    fmt = argparse.RawDescriptionHelpFormatter
    p = subparsers.add_parser("ingest", help="ingestion API: serve, upload via outbox, status",
                              description=HELP, formatter_class=fmt)
    sub = p.add_subparsers(dest="ingest_command", metavar="ACTION")
    p.set_defaults(func=lambda a: (p.print_help(sys.stderr), 2)[1])

    s = sub.add_parser("serve", help="run a local ingestion server", description=SERVE_HELP,
                       formatter_class=fmt)
    s.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    s.add_argument("--port", type=_port, default=4810, help="port (0 = any free port)")
    s.add_argument("--db", default="samples.db", help="SQLite database of stored samples")
    s.add_argument("--api-key", action="append", default=None,
                   help="accepted x-api-key (repeatable; default $EDGERT_API_KEY)")
    s.add_argument("--hmac-key", default=None, help="project HMAC key (default "
                   "$EDGERT_HMAC_KEY); without one, signatures are stored as not verified")
    s.add_argument("--max-file-mb", type=float, default=100.0, help="per-file limit (100)")
    s.add_argument("--max-document-mb", type=float, default=8.0,
                   help="limit of a JSON/CBOR document (8; 0 = only --max-file-mb): decoding "
                   "hostile documents costs up to ~2 us and ~85 bytes of memory per byte; raw "
                   "int16 audio after a Ref-BINARY-i16 header is not counted")
    s.add_argument("--max-connections", type=int, default=64,
                   help="connections served at once (64); more are answered 503 + Retry-After")
    s.add_argument("--reject-bad-signatures", action="store_true",
                   help="answer 400 instead of storing documents with a wrong HS256 signature")
    s.add_argument("--json", action="store_true", help='print {"url": ...} on stdout')
    s.set_defaults(func=cmd_serve)

    u = sub.add_parser("upload", help="upload files through the durable outbox",
                       description=UPLOAD_HELP, formatter_class=fmt)
    u.add_argument("files", nargs="+", metavar="FILE")
    u.add_argument("--category", choices=("training", "testing", "anomaly"), default="training")
    g = u.add_mutually_exclusive_group()
    g.add_argument("--label", help="label for all files (default: inferred from each name)")
    g.add_argument("--no-label", action="store_true", help="neither assign nor infer a label")
    u.add_argument("--add-date-id", action="store_true",
                   help="let the server append a unique id to each file name")
    u.add_argument("--url", default=os.environ.get("EDGERT_INGESTION_URL", DEFAULT_URL),
                   help=f"ingestion service (default $EDGERT_INGESTION_URL or {DEFAULT_URL})")
    u.add_argument("--api-key", default=None, help="x-api-key (default $EDGERT_API_KEY)")
    u.add_argument("--outbox", default=DEFAULT_OUTBOX, help=f"outbox file ({DEFAULT_OUTBOX})")
    u.add_argument("--timeout", type=_non_negative, default=300.0,
                   help="seconds to wait for delivery (default 300)")
    u.add_argument("--hmac-key", default=None,
                   help="sign the documents made from CSV files with HS256 (default "
                        "$EDGERT_HMAC_KEY; without a key they are sent as alg none)")
    u.add_argument("--no-wait", action="store_true", help="only enqueue; do not send now")
    u.add_argument("--concurrency", type=int, default=2, help="parallel uploads (2)")
    u.add_argument("--request-timeout", type=_positive, default=30.0,
                   help="per request (30 s)")
    u.add_argument("--max-mb", type=float, default=256.0, help="outbox quota in MB (256)")
    u.add_argument("--full-policy", choices=("reject", "drop-oldest"), default="reject",
                   help="when the quota is reached (default reject)")
    u.add_argument("--json", action="store_true", help="print the outbox status as JSON")
    u.set_defaults(func=cmd_upload)

    st = sub.add_parser("status", help="show an outbox's queue, counters and dead letters",
                        formatter_class=fmt,
                        description="Queue depth, oldest age, sent/dead-lettered/rejected/"
                        "dropped counts, bytes held and the last error of an outbox.\n\n"
                        "examples:\n  edgert ingest status --outbox edgert-outbox.db --dead")
    st.add_argument("--outbox", default=DEFAULT_OUTBOX)
    st.add_argument("--dead", action="store_true", help="also list dead letters")
    st.add_argument("--json", action="store_true")
    st.set_defaults(func=cmd_status)

    rq = sub.add_parser("requeue", help="move dead letters back to the queue",
                        formatter_class=fmt,
                        description="Requeue dead letters (all, or the given ids) after fixing "
                        "the cause.\n\nexamples:\n  edgert ingest requeue --outbox ob.db 4 7")
    rq.add_argument("ids", nargs="*", type=int)
    rq.add_argument("--outbox", default=DEFAULT_OUTBOX)
    rq.set_defaults(func=cmd_requeue)


def cmd_serve(args: argparse.Namespace) -> int:
    from ...ingestion import IngestionServer

    folder = os.path.dirname(os.path.abspath(args.db))
    if not os.path.isdir(folder):
        raise ConfigurationError(f"--db {args.db}: the folder {folder} does not exist; create "
                                 "it or give another path")
    keys = args.api_key or [k for k in (os.environ.get("EDGERT_API_KEY"),) if k]
    if not keys:
        raise ConfigurationError("no API key: pass --api-key (repeatable) or set "
                                 "EDGERT_API_KEY")
    hmac_key = args.hmac_key or os.environ.get("EDGERT_HMAC_KEY")
    srv = IngestionServer(args.db, keys, hmac_key, host=args.host, port=args.port,
                          max_file_bytes=int(args.max_file_mb * 1024 * 1024),
                          max_document_bytes=(int(args.max_document_mb * 1024 * 1024)
                                              if args.max_document_mb > 0 else None),
                          max_connections=args.max_connections,
                          reject_bad_signatures=args.reject_bad_signatures)

    def started(server: Any) -> None:
        if args.json:
            from ..output import emit_json
            emit_json({"url": server.url, "db": os.path.abspath(args.db)})
            sys.stdout.flush()
        else:
            sys.stderr.write(f"edgert: ingestion server on {server.url} (db {args.db}); "
                             "Ctrl-C to stop\n")
        if not hmac_key:
            log.warning("no HMAC key: signatures are not verified (stored as not valid)")

    try:
        srv.run(on_started=started)  # until SIGTERM/SIGINT, then a graceful stop
    except ImportError as exc:
        if (exc.name or "").split(".")[0] not in ("starlette", "uvicorn", "httptools",
                                                  "uvloop", "orjson"):
            raise
        raise ConfigurationError(f"the ingestion server runs on the daemon's web stack "
                                 f"({exc.name} is missing): pip install 'edgert[daemon]'") \
            from None
    finally:
        srv.close()
    return 0


def _progress(total: int, quiet: bool):
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover
        return None
    return tqdm(total=total, unit="file", desc="uploading",
                disable=quiet or not sys.stderr.isatty())


def _say(args: argparse.Namespace, text: str) -> None:
    """A line of the upload's report on stdout (unless --json or -q: then stdout holds only the
    JSON document, or nothing)."""
    if not args.json and not getattr(args, "quiet", False):
        sys.stdout.write(text + "\n")
        sys.stdout.flush()


def cmd_upload(args: argparse.Namespace) -> int:
    from ...ingestion import IngestionClient, Outbox, OutboxFull
    from ...ingestion.upload_files import read_uploads

    hmac_key = args.hmac_key or os.environ.get("EDGERT_HMAC_KEY")
    files = read_uploads(args.files, hmac_key)       # all read (and CSVs converted) first
    client = None if args.no_wait else IngestionClient(args.url, _api_key(args),
                                                       timeout=args.request_timeout)
    outbox_path = os.path.abspath(args.outbox)
    ob = Outbox(args.outbox, client, max_bytes=int(args.max_mb * 1024 * 1024),
                full_policy=args.full_policy, concurrency=args.concurrency)
    try:
        before = ob.status()
        t0 = time.time()
        ids: List[int] = []
        for f in files:
            try:
                ids.append(ob.enqueue(f.body, args.category, f.filename, label=args.label,
                                      no_label=args.no_label, add_date_id=args.add_date_id))
            except OutboxFull as exc:
                log.error("%s: not queued: %s", f.path, exc)
                return 1
            if f.converted:
                log.info("%s: converted from CSV to a data-acquisition document %s",
                         f.path, f.filename)
        known = [i for i in ids if (ob.get(i) or {}).get("enqueued_at", t0) < t0]
        converted = sum(f.converted for f in files)
        _say(args, f"queued {len(ids) - len(known)} file(s) in the outbox {outbox_path}"
             + (f" ({len(known)} already there)" if known else "")
             + (f"; {converted} converted from CSV" if converted else ""))
        code = 0
        if args.no_wait:
            _say(args, "not sending now (--no-wait): run `edgert ingest upload` again, or the "
                       "gateway, to send them")
        else:
            code = _wait_for_delivery(args, ob, before, len(ids), outbox_path)
        st = ob.status()
        dead = {d.id: d for d in ob.dead_letters(limit=100000)}
        failed = [i for i in ids if i in dead]
        for i in failed:
            log.error("%s: dead-lettered: %s", dead[i].filename, dead[i].reason)
        if failed and code == 0:
            code = 1
        if not args.no_wait:
            states = [(ob.get(i) or {}).get("state") for i in ids]
            sent = sum(s == "sent" for s in states)
            waiting = sum(s in ("pending", "inflight") for s in states)
            _say(args, f"sent {sent} of {len(ids)} file(s) to {args.url}; "
                       f"{len(failed)} dead-lettered, {waiting} still queued"
                       + (f" (see `edgert ingest status --outbox {args.outbox} --dead`)"
                          if failed else ""))
        if args.json:
            from ..output import emit_json
            emit_json({"queued_ids": ids, "dead_lettered_ids": failed, "status": st.to_dict(),
                       "outbox": outbox_path})
        return code
    finally:
        ob.close()


def _wait_for_delivery(args: argparse.Namespace, ob, before, queued: int,
                       outbox_path: str) -> int:
    """Send until the outbox is drained or --timeout; report each new reason for a retry.
    Returns 0, or 3 when samples are still queued (timeout or Ctrl-C)."""
    _say(args, f"sending to {args.url} (up to {args.timeout:g} s; Ctrl-C stops waiting, "
               "what is not sent stays queued)")
    ob.start()
    bar = _progress(before.depth + queued, getattr(args, "quiet", False))
    deadline = time.monotonic() + args.timeout
    done_before = before.sent + before.dead_lettered
    retries, said, said_at = before.retries, None, 0.0
    drained = interrupted = False
    try:
        while time.monotonic() < deadline:
            st = ob.status()
            if bar is not None:
                bar.n = min(bar.total, st.sent + st.dead_lettered - done_before)
                bar.refresh()
            cause = _cause(st.last_error)
            # each new reason once (whichever sample hit it), and again every 30 s
            if st.retries > retries and cause and (
                    cause != said or time.monotonic() - said_at > 30):
                nxt = (f"; next attempt in {st.next_attempt_in_s:.0f} s"
                       if st.next_attempt_in_s and st.next_attempt_in_s >= 1 else "")
                log.warning("not delivered yet, retrying because: %s%s", cause, nxt)
                said, said_at = cause, time.monotonic()
            retries = st.retries
            if st.depth == 0:
                drained = True
                break
            time.sleep(0.1)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        if bar is not None:
            bar.close()
        ob.stop()
    if drained:
        return 0
    st = ob.status()
    why = "stopped (Ctrl-C)" if interrupted else f"timed out after {args.timeout:g} s"
    log.error("%s with %d sample(s) still queued (last error: %s); they stay in %s for the "
              "next run", why, st.depth, _reason(st.last_error) or "-", outbox_path)
    return 3


def _cause(last_error: Optional[str]) -> Optional[str]:
    """The reason of the outbox's last error, without the time and the sample it hit."""
    reason = _reason(last_error)
    if reason and reason.startswith("sample ") and "): " in reason:
        return reason.split("): ", 1)[1]
    return reason


def _reason(last_error: Optional[str]) -> Optional[str]:
    """The outbox's last error without its timestamp prefix."""
    if not last_error:
        return last_error
    head, _, rest = last_error.partition(" ")
    return rest if head.endswith("Z") and rest else last_error


def _fmt_age(seconds: Optional[float]) -> str:
    return "-" if seconds is None else f"{seconds:.1f}s"


def cmd_status(args: argparse.Namespace) -> int:
    from ...ingestion import Outbox

    if not os.path.exists(args.outbox):
        raise FileNotFoundError(2, "no such outbox", args.outbox)
    with Outbox(args.outbox) as ob:
        st = ob.status()
        dead = ob.dead_letters(limit=1000) if args.dead else []
    if args.json:
        from ..output import emit_json
        doc = st.to_dict()
        if args.dead:
            doc["dead_letters"] = [d.to_dict() for d in dead]
        emit_json(doc)
        return 0
    out = sys.stdout
    out.write(f"outbox        {os.path.abspath(args.outbox)}\n"
              f"queued        {st.depth} ({st.pending} pending, {st.inflight} in flight)\n"
              f"oldest        {_fmt_age(st.oldest_age_s)}\n"
              f"next attempt  {_fmt_age(st.next_attempt_in_s)}\n"
              f"sent          {st.sent} ({st.duplicates} confirmed as already stored)\n"
              f"dead-lettered {st.dead_lettered}\n"
              f"bytes held    {st.bytes} of {st.max_bytes}\n"
              f"rejected      {st.rejected}\ndropped       {st.dropped}\n"
              f"retries       {st.retries}\nlast error    {st.last_error or '-'}\n")
    for d in dead:
        out.write(f"dead #{d.id} {d.filename} ({d.category}, {d.size} B, {d.attempts} "
                  f"attempt(s), HTTP {d.http_status}): {d.reason}\n")
    return 0


def cmd_requeue(args: argparse.Namespace) -> int:
    from ...ingestion import Outbox

    if not os.path.exists(args.outbox):
        raise FileNotFoundError(2, "no such outbox", args.outbox)
    with Outbox(args.outbox) as ob:
        n = ob.requeue(args.ids or None)
    sys.stdout.write(f"requeued {n} sample(s); run `edgert ingest upload` or the gateway to "
                     "send them\n")
    return 0
