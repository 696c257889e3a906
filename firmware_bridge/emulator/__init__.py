"""Board emulators on pseudo-terminals, for trying and testing the bridge without hardware.

- :class:`AtFirmware`: a DISCO-L475VG-IOT01A with Edge Impulse's firmware (AT commands,
  sampling of the accelerometer and the microphone - :func:`wav_microphone` plays a WAV into
  it -, file and buffer readback, the on-board impulse in the three output formats).
- :class:`ForwarderBoard`: a sketch printing readings for the data forwarder.
- :class:`Faults`: garbled/truncated lines, a hang, a slow device, a disconnect mid-stream.

Run by hand: ``python -m firmware_bridge.emulator --link /tmp/ttyEI0`` (see ``--help``).
"""
from .firmware import (AT_VERSION, FIRMWARE_FORMATS, ST_PROMPT, AtFirmware, ImpulseInfo,
                       microphone_file, synthetic_microphone, wav_microphone)
from .forwarder_board import ForwarderBoard, sine_source
from .link import Faults, LinkClosed, PtyLink

__all__ = ["AtFirmware", "ForwarderBoard", "Faults", "ImpulseInfo", "LinkClosed", "PtyLink",
           "AT_VERSION", "FIRMWARE_FORMATS", "ST_PROMPT", "sine_source", "wav_microphone",
           "synthetic_microphone", "microphone_file"]
