"""The ``--scheduler`` / ``--workers`` flags shared by the commands that can run on a Dask
cluster (``classify-all``, ``anomaly fit``)."""
from __future__ import annotations

import argparse
import logging
import sys
from contextlib import ExitStack
from typing import Any, Optional

from ..errors import ConfigurationError
from .recording_args import positive_int

log = logging.getLogger("edgert.cli")


def add_dask_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("distributed (pip install 'edgert[dask]')")
    g.add_argument("--scheduler", metavar="ADDRESS",
                   help="run on a running Dask cluster: its scheduler's address, e.g. "
                        "tcp://10.0.0.5:8786 (every worker must see the bundle and the data at "
                        "the same paths, with the same edgert version)")
    g.add_argument("--workers", type=positive_int, metavar="N",
                   help="start a local Dask cluster of N worker processes for this run (uses "
                        "every core: JSON decoding no longer holds one GIL)")


def dask_client_from_args(args: argparse.Namespace, stack: ExitStack) -> Optional[Any]:
    """The ``distributed.Client`` the flags ask for (closed with ``stack``), or None."""
    if args.scheduler and args.workers:
        raise ConfigurationError("give --scheduler (a running cluster) or --workers (a local "
                                 "one), not both")
    if not (args.scheduler or args.workers):
        return None
    from ..dataset.distributed import dask_client
    quiet = getattr(args, "quiet", False)
    return stack.enter_context(dask_client(
        args.scheduler, args.workers,
        announce=log.info if quiet else (lambda m: sys.stderr.write(f"edgert: {m}\n"))))


__all__ = ["add_dask_args", "dask_client_from_args"]
