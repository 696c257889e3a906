"""`edgert import`: the hook of edgert.importer.cli (one import, easy to move with the CLI)."""
from ...importer.cli import register  # noqa: F401
