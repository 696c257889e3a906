#!/usr/bin/env python3
"""Run every ``benches/bench_*.py`` (each writes ``benches/results/<name>.md``) and assemble
``benches/RESULTS.md`` from the result files, newest machine/date header first.

    python benches/run_all.py              # run all benchmarks, then assemble
    python benches/run_all.py --only spectral engine
    python benches/run_all.py --assemble   # only rebuild RESULTS.md from results/*.md
"""
from __future__ import annotations

import argparse
import datetime as _dt
import os
import platform
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith(("model name", "cpu model", "hardware")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds process ``pid`` has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def assemble() -> Path:
    parts = [
        "# edgert benchmark results\n",
        "Every figure is a median of repeated runs and, where a reference exists, a ratio "
        "against it measured in the same run. Each section names its machine and date.\n",
        f"Assembled {_dt.datetime.now(_dt.timezone.utc):%Y-%m-%d %H:%M UTC} on "
        f"{platform.node() or 'unknown host'} ({cpu_model()}, {platform.machine()}, "
        f"Python {platform.python_version()}).\n",
    ]
    for f in sorted((HERE / "results").glob("*.md")):
        parts.append(f.read_text().rstrip() + "\n")
    out = HERE / "RESULTS.md"
    out.write_text("\n".join(parts))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", nargs="*", help="benchmark names (bench_<name>.py)")
    ap.add_argument("--assemble", action="store_true", help="only assemble RESULTS.md")
    args = ap.parse_args()
    if not args.assemble:
        for script in sorted(HERE.glob("bench_*.py")):
            name = script.stem[len("bench_"):]
            if args.only and name not in args.only:
                continue
            print(f"== {script.name}", flush=True)
            rc = subprocess.call([sys.executable, str(script)], cwd=HERE.parent)
            if rc != 0:
                print(f"{script.name} failed with exit code {rc}", file=sys.stderr)
                return rc
    print(f"wrote {assemble()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
