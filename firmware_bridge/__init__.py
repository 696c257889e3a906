"""Serial bridge to boards running Edge Impulse firmware (AT protocol) and to boards that print
readings (data-forwarder mode); ``edgert bridge`` on the command line, docs/bridge.md.

- :mod:`.ports`: port discovery, :class:`~.ports.SerialLink` (a device path that may vanish
  and come back)
- :mod:`.at_client`: the AT protocol (:class:`~.at_client.AtClient`: connect, config, sample,
  read back, unlink, run the impulse)
- :mod:`.device`: ``AT+CONFIG?`` as a typed description
- :mod:`.inference_output`: the firmware's three result formats
- :mod:`.forwarder`: reading lines, frequency detection, host-side inference
- :mod:`.capture`: anomalous windows into the uploader's outbox
- :mod:`.runner`: one reader thread per board, reconnects, the multi-board :class:`~.runner.Bridge`
- :mod:`.emulator`: boards on pseudo-terminals, with faults (``python -m firmware_bridge.emulator``)
- :mod:`.cli`: ``edgert bridge``
"""
