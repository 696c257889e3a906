"""Serial bridge to Edge Impulse firmware boards (AT protocol) and data-forwarder boards."""
