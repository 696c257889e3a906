"""The ``edgert`` command line.

Subcommands live one module per command family in :mod:`edgert.cli.commands`; each module has a
``register(subparsers)`` function that adds its parsers and sets ``func`` (a callable taking the
parsed ``argparse.Namespace`` and returning an exit code). Logs go to stderr; machine output
(``--json``) goes to stdout and nothing else does.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import os
import pkgutil
import sys
from typing import Optional, Sequence

from .._version import __version__
from ..errors import EdgertError

log = logging.getLogger("edgert")

DESCRIPTION = """\
edgert runs Edge Impulse impulses (sliding window -> spectral DSP -> neural network and
K-means anomaly detection) on a gateway, with the results Edge Impulse's own SDK gives.

An impulse BUNDLE is a directory (or .zip) with impulse.json, the model files and anomaly
metadata; see `edgert info BUNDLE`. A recording FILE is an Edge Impulse data-acquisition
document (JSON or CBOR, as the firmware and the ingestion API use) or a CSV with a timestamp
column in milliseconds followed by one column per axis.

examples:
  edgert info examples/motion-demo
  edgert classify examples/motion-demo examples/motion-demo/sdk-windows/wave.00.json
  edgert classify examples/motion-demo recording.cbor --variant int8 --json
"""


class Parser(argparse.ArgumentParser):
    """argparse with edgert's error line: a usage error is one ``edgert: ERROR: ...`` line
    naming the command, the problem and where the help is, and exit status 2 (argparse's
    usage dump is left out: ``--help`` has it). Subcommand parsers inherit the class."""

    def error(self, message: str):  # type: ignore[override]
        sys.stderr.write(f"edgert: ERROR: {self.prog}: {message}; see `{self.prog} --help`\n")
        sys.exit(2)


def build_parser(command: Optional[str] = None) -> argparse.ArgumentParser:
    """The ``edgert`` parser with every subcommand, or - ``command`` given - with only the
    module of that name (``classify-all`` -> ``commands/classify_all.py``): a long-running
    command (the daemon) then does not keep every other command's modules in memory."""
    parser = Parser(
        prog="edgert", description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"edgert {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="more logging on stderr (-v info, -vv debug)")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="only errors on stderr, no progress bars")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    from . import commands
    only = command.replace("-", "_") if command else None
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if info.name.startswith("_") or (only is not None and info.name != only):
            continue
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        module.register(sub)
    return parser


def _parser_for(argv: Optional[Sequence[str]]) -> argparse.ArgumentParser:
    """The parser for ``argv``: only its command's module when that module defines it (the
    first argument that is not an option names the command), else every command."""
    args = sys.argv[1:] if argv is None else list(argv)
    command = next((a for a in args if not a.startswith("-")), None)
    if command and command.replace("-", "_").isidentifier():
        parser = build_parser(command)
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        if command in sub.choices:
            return parser
    return build_parser()


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = _parser_for(argv)
    args = parser.parse_args(argv)
    level = logging.ERROR if args.quiet else (
        logging.WARNING, logging.INFO, logging.DEBUG)[min(args.verbose, 2)]
    logging.basicConfig(level=level, format="edgert: %(levelname)s: %(message)s")
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.func(args) or 0)
    except EdgertError as exc:
        log.error("%s", exc)
        return 1
    except FileNotFoundError as exc:
        log.error("%s: %s", exc.filename, exc.strerror or "no such file")
        return 1
    except BrokenPipeError:
        # The reader of stdout went away (`edgert ... | head`): stop quietly as Unix tools do,
        # and point stdout at /dev/null so the interpreter's final flush cannot fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except OSError as exc:   # a directory given as a file, no permission, a full disk, ...
        where = f"{exc.filename}: " if exc.filename else ""
        log.error("%s%s", where, exc.strerror or exc)
        return 1
    except KeyboardInterrupt:
        return 130
    except MemoryError:
        log.error("out of memory; try a smaller input (or fewer --threads)")
        return 1
    except Exception as exc:  # noqa: BLE001 - the last line of defence: no traceback for users
        log.error("unexpected %s: %s; this is a bug in edgert: rerun with -vv for the "
                  "traceback and report it", type(exc).__name__, exc)
        log.debug("traceback", exc_info=True)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
