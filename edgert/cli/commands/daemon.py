"""``edgert daemon``: the gateway daemon (needs ``pip install 'edgert[daemon]'``)."""
from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Any

log = logging.getLogger("edgert.daemon")
#: The daemon extra's packages (an ImportError naming another module is a bug, not a missing
#: extra).
WEB_STACK = ("starlette", "uvicorn", "httptools", "uvloop", "prometheus_client", "orjson",
             "httpx", "anyio", "tomli")

DESCRIPTION = """\
Run the gateway daemon: one process that holds an impulse, accepts data from devices
(the ingestion API), classifies it live, keeps results, posts them to webhooks, and forwards
anomaly events upstream through a durable outbox that loses none.

HTTP endpoints (every one needs the x-api-key header; the document is GET /openapi.json):
  /v1/api/{projectId}/...            Studio-compatible subset (classify v2, classify-all
                                     jobs and result pages, anomaly metadata, samples)
  POST /api/{training,testing,anomaly}/{data,files}   ingestion, as upstream
  POST /api/classify?sync=true|false, GET /api/result/{id}   live classification
  GET /api/outbox, /healthz, /metrics (Prometheus)

Files next to --db (gateway.db): gateway.db (results, webhooks, jobs), gateway.outbox.db
(anomaly events on their way upstream), gateway.samples/ (ingested samples) and
gateway.index.db (their index).

The config file (--config, TOML) has the flags' names with '_' (bundle, db, host, port,
api_key, hmac_key, upstream, upstream_api_key, webhook = [...], log_format) and a [limits]
table for tuning (see docs/daemon.md); flags given here win over it. Keys can also come from
$EDGERT_API_KEY, $EDGERT_HMAC_KEY and $EDGERT_UPSTREAM_API_KEY. SIGTERM or Ctrl-C stop it
gracefully: requests in progress finish, the outbox stays on disk.

examples:
  edgert daemon --bundle examples/motion-demo --db /var/lib/edgert/gateway.db \\
      --port 4800 --api-key ei_gateway --hmac-key secret
  edgert daemon --config /etc/edgert/daemon.toml
  edgert daemon --config daemon.toml --upstream https://ingestion.edgeimpulse.com \\
      --upstream-api-key ei_... --webhook http://127.0.0.1:9000/hook --log-format json
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("daemon", help="run the gateway daemon (HTTP API, ingestion, live "
                       "classification, webhooks, anomalies upstream)",
                       description=DESCRIPTION,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bundle", metavar="PATH", help="impulse bundle (folder or .zip)")
    p.add_argument("--db", metavar="PATH", help="the daemon's SQLite database (created if "
                   "missing; its outbox and samples sit next to it)")
    p.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, metavar="N", help="port (default 4800; 0 = any free)")
    p.add_argument("--api-key", metavar="KEY", help="the x-api-key clients must send "
                   "(default $EDGERT_API_KEY)")
    p.add_argument("--hmac-key", metavar="KEY", help="project HMAC key: verifies uploads, "
                   "signs anomaly events and webhook bodies (default $EDGERT_HMAC_KEY)")
    p.add_argument("--upstream", metavar="URL", help="ingestion service the anomaly events go "
                   "to (e.g. https://ingestion.edgeimpulse.com)")
    p.add_argument("--upstream-api-key", metavar="KEY", help="its API key (default "
                   "$EDGERT_UPSTREAM_API_KEY)")
    p.add_argument("--webhook", metavar="URL", action="append", help="POST every live "
                   "result here (repeatable)")
    p.add_argument("--config", metavar="FILE", help="TOML config file (keys mirror the flags)")
    p.add_argument("--log-format", choices=("text", "json"), help="log lines as text "
                   "(default) or one JSON object per line")
    p.add_argument("--json", action="store_true", help='print {"url": ..., "pid": ...} on '
                   "stdout once listening")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        from ...daemon.app import serve
        from ...daemon.config import build, redacted
        from ...web import logs
    except ImportError as exc:
        if (exc.name or "").split(".")[0] not in WEB_STACK:
            raise
        from ...errors import ConfigurationError
        raise ConfigurationError(f"the daemon needs its web stack ({exc.name} is missing): "
                                 "pip install 'edgert[daemon]'") from None
    cfg = build({"bundle": args.bundle, "db": args.db, "host": args.host, "port": args.port,
                 "api_key": args.api_key, "hmac_key": args.hmac_key,
                 "upstream": args.upstream, "upstream_api_key": args.upstream_api_key,
                 "webhook": args.webhook, "config": args.config,
                 "log_format": args.log_format})
    level = logging.ERROR if getattr(args, "quiet", False) else (
        logging.DEBUG if getattr(args, "verbose", 0) else logging.INFO)
    logs.configure(cfg.log_format, level)
    for noisy in ("httpx", "httpcore", "uvicorn.error"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
    log.debug("configuration: %s", redacted(cfg))

    def started(server: Any) -> None:
        if args.json:
            from ..output import emit_json
            emit_json({"url": server.url, "pid": os.getpid(),
                       "db": os.path.abspath(cfg.db)})
            sys.stdout.flush()

    serve(cfg, on_started=started)
    return 0
