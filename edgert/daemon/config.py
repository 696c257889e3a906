"""The gateway daemon's configuration: command-line flags, a TOML file whose keys mirror them,
and tuning limits that only the file sets.

Flags (a contract; ``edgert daemon --help``)::

    --bundle PATH --db PATH --host 127.0.0.1 --port N --api-key KEY [--hmac-key KEY]
    [--upstream URL --upstream-api-key KEY] [--webhook URL]... [--config FILE]
    [--log-format text|json]

The file is TOML (``tomllib``; ``tomli`` before Python 3.11): the same names with ``_`` for
``-`` (``api_key``, ``upstream_api_key``, ``log_format``; ``webhook`` is a list), plus a
``[limits]`` table (see :class:`Limits`). A flag given on the command line wins over the file;
relative paths in the file are relative to the file's folder. Keys may also come from the
environment (``EDGERT_API_KEY``, ``EDGERT_HMAC_KEY``, ``EDGERT_UPSTREAM_API_KEY``), which keeps
them out of ``ps`` output and of the file.

Files the daemon keeps next to ``--db`` (``gateway.db`` below): ``gateway.db`` (results,
webhook deliveries, jobs, anomaly scans), ``gateway.outbox.db`` (+ ``.lock``: the durable
upload queue of anomaly events), ``gateway.samples/`` (the ingested samples: a dataset folder)
and ``gateway.index.db`` (its SQLite index, rebuilt from the folder when lost).
"""
from __future__ import annotations

import dataclasses
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional
from urllib.parse import urlsplit

from ..errors import ConfigurationError

ENV_API_KEY = "EDGERT_API_KEY"
ENV_HMAC_KEY = "EDGERT_HMAC_KEY"
ENV_UPSTREAM_API_KEY = "EDGERT_UPSTREAM_API_KEY"
LOG_FORMATS = ("text", "json")
DEFAULT_PORT = 4800


#: limits where 0 means something (what, for the error message)
_ZERO_ALLOWED = {"classify_threads": "0 = one per CPU",
                 "inline_max_bytes": "0 = no request on the event loop",
                 "inline_max_windows": "0 = no request on the event loop"}


@dataclass
class Limits:
    """Tuning knobs (``[limits]`` in the config file); the defaults suit a small gateway."""

    #: connections served at once; more are answered 503 + Retry-After
    max_connections: int = 64
    #: seconds for a request's line and headers, and of silence while a body arrives
    request_timeout: float = 30.0
    #: seconds for a whole request body
    body_timeout: float = 300.0
    #: largest body of POST /api/classify
    max_classify_bytes: int = 8 * 1024 * 1024
    #: largest upload per file on the ingestion endpoints (upstream: 100 MB)
    max_file_bytes: int = 100 * 1024 * 1024
    #: largest JSON/CBOR document on the ingestion endpoints (raw int16 audio not counted)
    max_document_bytes: int = 8 * 1024 * 1024
    #: threads running C work (classification); 0 = one per CPU
    classify_threads: int = 0
    #: a synchronous live request whose body has at most this many bytes and whose
    #: recording is in the impulse's columns and rate with at most ``inline_max_windows``
    #: windows is handled on the event loop (tens of microseconds: cheaper than a hand-off to
    #: a worker thread); 0 = every request on a worker thread
    inline_max_bytes: int = 65536
    inline_max_windows: int = 4
    #: threads for SQLite and dataset work (ingestion, pages, listings)
    io_threads: int = 4
    #: classify v2 answers with a job for samples longer than this (ms)
    classify_sync_max_ms: float = 60_000.0
    #: results kept at most this long (s), and at most this many (oldest finished go first)
    results_retention_s: float = 86_400.0
    max_results: int = 100_000
    #: webhook delivery: attempts per result and URL, seconds per attempt, backoff
    webhook_max_attempts: int = 6
    webhook_timeout_s: float = 5.0
    webhook_backoff_s: float = 1.0
    webhook_backoff_cap_s: float = 60.0
    #: the anomaly outbox: bytes held at most, upload timeout, retry backoff
    outbox_max_bytes: int = 256 * 1024 * 1024
    outbox_request_timeout_s: float = 30.0
    outbox_retry_base_s: float = 0.5
    outbox_retry_cap_s: float = 60.0
    #: seconds a graceful stop waits for requests in progress
    graceful_timeout_s: float = 10.0

    def validate(self) -> "Limits":
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise ConfigurationError(f"limits.{f.name} must be a number, got {v!r}")
            if f.name in _ZERO_ALLOWED:
                if v < 0:
                    raise ConfigurationError(f"limits.{f.name} must be >= 0 "
                                             f"({_ZERO_ALLOWED[f.name]})")
            elif v <= 0:
                raise ConfigurationError(f"limits.{f.name} must be positive, got {v!r}")
        for f in dataclasses.fields(self):
            if f.type not in ("int", int):  # (a string under postponed annotations)
                continue
            v = getattr(self, f.name)
            if float(v) != int(v):
                raise ConfigurationError(f"limits.{f.name} must be a whole number, got {v!r}")
            setattr(self, f.name, int(v))
        if self.outbox_retry_cap_s < self.outbox_retry_base_s:
            raise ConfigurationError("limits.outbox_retry_cap_s must be >= outbox_retry_base_s")
        return self

    @property
    def threads(self) -> int:
        return self.classify_threads or max(1, os.cpu_count() or 1)


@dataclass
class DaemonConfig:
    bundle: str
    db: str
    api_key: str
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    hmac_key: Optional[str] = None
    upstream: Optional[str] = None
    upstream_api_key: Optional[str] = None
    webhook: List[str] = field(default_factory=list)
    log_format: str = "text"
    limits: Limits = field(default_factory=Limits)

    # -- derived paths --------------------------------------------------------------------
    @property
    def base(self) -> Path:
        p = Path(self.db)
        return p.with_suffix("") if p.suffix else p

    @property
    def outbox_path(self) -> str:
        return str(self.base) + ".outbox.db"

    @property
    def samples_dir(self) -> str:
        return str(self.base) + ".samples"

    @property
    def index_path(self) -> str:
        """The samples' dataset index (a cache of the folder, rebuilt when lost)."""
        return str(self.base) + ".index.db"

    @property
    def webhook_key(self) -> str:
        """What webhook signatures are made with: the HMAC key, else the API key."""
        return self.hmac_key or self.api_key

    def validate(self) -> "DaemonConfig":
        if not self.bundle:
            raise ConfigurationError("no bundle: pass --bundle PATH (an impulse folder or .zip)")
        if not Path(self.bundle).exists():
            raise ConfigurationError(f"bundle {self.bundle}: no such file or folder")
        if not self.db:
            raise ConfigurationError("no database: pass --db PATH (created if missing)")
        parent = Path(self.db).resolve().parent
        if not parent.is_dir():
            raise ConfigurationError(f"--db {self.db}: the folder {parent} does not exist")
        if not self.api_key:
            raise ConfigurationError(f"no API key: pass --api-key, set {ENV_API_KEY}, or "
                                     "api_key in the config file")
        if not isinstance(self.port, int) or isinstance(self.port, bool) \
                or not 0 <= self.port <= 65535:
            raise ConfigurationError(f"port must be 0..65535, got {self.port!r}")
        if self.log_format not in LOG_FORMATS:
            raise ConfigurationError(f"log format must be one of {', '.join(LOG_FORMATS)}, "
                                     f"got {self.log_format!r}")
        if self.upstream:
            _check_url(self.upstream, "--upstream")
            if not self.upstream_api_key:
                raise ConfigurationError(f"--upstream needs --upstream-api-key (or "
                                         f"{ENV_UPSTREAM_API_KEY}): the upstream ingestion "
                                         "service's API key")
        elif self.upstream_api_key:
            raise ConfigurationError("--upstream-api-key without --upstream: give the upstream "
                                     "ingestion URL too")
        for url in self.webhook:
            _check_url(url, "--webhook")
        self.limits.validate()
        return self


def _check_url(url: str, what: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(f"{what} {url!r}: give an http:// or https:// URL with a host")


#: Config-file keys: the flags' names with ``_``.
FILE_KEYS = ("bundle", "db", "host", "port", "api_key", "hmac_key", "upstream",
             "upstream_api_key", "webhook", "log_format", "limits")


def load_file(path: str) -> Dict[str, Any]:
    """Read a TOML config file into a dict of :data:`FILE_KEYS` (paths made absolute)."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        try:
            import tomli as tomllib
        except ImportError:
            raise ConfigurationError("reading a TOML config file on Python < 3.11 needs "
                                     "tomli: pip install 'edgert[daemon]'") from None
    p = Path(path)
    try:
        text = p.read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"config file {path}: {exc.strerror or exc}") from None
    try:
        doc = tomllib.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigurationError(f"config file {path}: not valid TOML ({exc})") from None
    unknown = sorted(set(doc) - set(FILE_KEYS))
    if unknown:
        raise ConfigurationError(f"config file {path}: unknown key(s) {', '.join(unknown)}; "
                                 f"the keys are {', '.join(FILE_KEYS)}")
    limits = doc.get("limits", {})
    if not isinstance(limits, dict):
        raise ConfigurationError(f"config file {path}: [limits] must be a table")
    known = {f.name for f in dataclasses.fields(Limits)}
    bad = sorted(set(limits) - known)
    if bad:
        raise ConfigurationError(f"config file {path}: unknown limit(s) {', '.join(bad)}; "
                                 f"the limits are {', '.join(sorted(known))}")
    for key in ("bundle", "db"):
        if key in doc:
            if not isinstance(doc[key], str):
                raise ConfigurationError(f"config file {path}: {key} must be a string")
            doc[key] = str((p.parent / doc[key]).resolve()) if not os.path.isabs(doc[key]) \
                else doc[key]
    if "webhook" in doc:
        hooks = doc["webhook"]
        if isinstance(hooks, str):
            hooks = [hooks]
        if not isinstance(hooks, list) or not all(isinstance(u, str) for u in hooks):
            raise ConfigurationError(f"config file {path}: webhook must be a URL or a list "
                                     "of URLs")
        doc["webhook"] = hooks
    for key in ("host", "api_key", "hmac_key", "upstream", "upstream_api_key", "log_format"):
        if key in doc and not isinstance(doc[key], str):
            raise ConfigurationError(f"config file {path}: {key} must be a string")
    if "port" in doc and (isinstance(doc["port"], bool) or not isinstance(doc["port"], int)):
        raise ConfigurationError(f"config file {path}: port must be a whole number")
    return doc


def build(flags: Mapping[str, Any], environ: Optional[Mapping[str, str]] = None
          ) -> DaemonConfig:
    """The configuration from parsed flags (None = not given) over the config file
    (``flags["config"]``) over the environment over the defaults."""
    env = os.environ if environ is None else environ
    merged: Dict[str, Any] = {}
    if flags.get("config"):
        merged.update(load_file(flags["config"]))
    for key in FILE_KEYS:
        if key == "limits":
            continue
        v = flags.get(key)
        if v is not None and not (key == "webhook" and not v):
            merged[key] = v
    merged.setdefault("api_key", env.get(ENV_API_KEY))
    merged.setdefault("hmac_key", env.get(ENV_HMAC_KEY))
    merged.setdefault("upstream_api_key", env.get(ENV_UPSTREAM_API_KEY))
    limits = Limits(**merged.pop("limits", {}))
    cfg = DaemonConfig(
        bundle=merged.get("bundle") or "", db=merged.get("db") or "",
        api_key=merged.get("api_key") or "", host=merged.get("host") or "127.0.0.1",
        port=merged["port"] if merged.get("port") is not None else DEFAULT_PORT,
        hmac_key=merged.get("hmac_key") or None, upstream=merged.get("upstream") or None,
        upstream_api_key=merged.get("upstream_api_key") or None,
        webhook=list(merged.get("webhook") or []),
        log_format=merged.get("log_format") or "text", limits=limits)
    return cfg.validate()


def redacted(cfg: DaemonConfig) -> Dict[str, Any]:
    """The configuration for a log line or ``--json``: keys replaced by ``"***"``."""
    d = dataclasses.asdict(cfg)
    for k in ("api_key", "hmac_key", "upstream_api_key"):
        if d.get(k):
            d[k] = "***"
    return d


__all__ = ["DEFAULT_PORT", "DaemonConfig", "FILE_KEYS", "Limits", "build", "load_file",
           "redacted"]
