"""``edgert bridge``: implemented by the top-level package ``firmware_bridge``."""
from firmware_bridge.cli import register  # noqa: F401
