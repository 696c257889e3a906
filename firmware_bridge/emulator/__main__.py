"""``python -m firmware_bridge.emulator``: serve emulated boards on pseudo-terminals."""
from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from typing import List, Union

from .firmware import FIRMWARE_FORMATS, AtFirmware, wav_microphone
from .forwarder_board import ForwarderBoard
from .link import Faults

HELP = """\
Emulate Edge Impulse firmware boards on pseudo-terminals, to try `edgert bridge` without
hardware. Each board gets a pty; --link PATH makes PATH a symlink to it (as udev's
/dev/serial/by-id links), kept pointing at the board across an emulated unplug/replug.
With --count N, PATH must contain {n} (0..N-1).

The board speaks the DISCO-L475VG-IOT01A firmware's AT protocol (echo, CRLF, the ST prompt
ESC[2K CR "> ", the firmware's error texts), or, with --forwarder, prints readings for the
data forwarder. Faults can be injected. Runs until Ctrl-C/SIGTERM; SIGUSR1 unplugs every board
and plugs it back in after --replug-after seconds.

examples:
  python -m firmware_bridge.emulator --link /tmp/ttyEI0
  python -m firmware_bridge.emulator --link /tmp/ttyEI0 --firmware 2020 --time-scale 0.1
  python -m firmware_bridge.emulator --link /tmp/ttyEI0 \
      --microphone-wav examples/kws-demo/audio/helloworld.01.wav
  then: edgert bridge --port /tmp/ttyEI0 --sample microphone --label hello \
      --length-ms 6000 --output hello.cbor
  python -m firmware_bridge.emulator --forwarder --axes 6 --frequency 1000 \\
      --count 4 --link '/tmp/fwd{n}'
  then: edgert bridge --port /tmp/ttyEI0
"""


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m firmware_bridge.emulator", description=HELP,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--link", help="symlink to create for the board's pty (with --count: "
                   "containing {n})")
    p.add_argument("--count", type=int, default=1, help="number of boards (1)")
    p.add_argument("--forwarder", action="store_true",
                   help="a data-forwarder board instead of the AT firmware")
    p.add_argument("--firmware", choices=FIRMWARE_FORMATS, default="current",
                   help="inference output format of the AT firmware (current)")
    p.add_argument("--device-id", default="c4:7f:51:01:02:{n:02x}",
                   help="AT+CONFIG? ID ({n} = board number)")
    p.add_argument("--time-scale", type=float, default=1.0,
                   help="multiply every firmware delay (0.1 = ten times faster)")
    p.add_argument("--microphone-wav", metavar="FILE",
                   help="what the board's microphone hears: a 16 kHz 16-bit mono WAV, played "
                   "from its start at every recording (default: a 440 Hz tone)")
    p.add_argument("--mic-padding", action="store_true",
                   help="pad the microphone document's header for 4-byte aligned samples, as "
                   "boards on Edge Impulse's shared firmware-sdk do (the DISCO board does not)")
    p.add_argument("--axes", type=int, default=3, help="forwarder: values per line (3)")
    p.add_argument("--frequency", type=float, default=62.5, help="forwarder: lines/s (62.5)")
    p.add_argument("--separator", choices=(",", "tab", "space"), default=",")
    p.add_argument("--garble", type=float, default=0.0, help="probability a line is garbled")
    p.add_argument("--truncate", type=float, default=0.0, help="probability a line is cut")
    p.add_argument("--byte-delay", type=float, default=0.0,
                   help="seconds of pause after each output byte (a slow device)")
    p.add_argument("--replug-after", type=float, default=1.0,
                   help="SIGUSR1: seconds out before plugging back in (1)")
    p.add_argument("--json", action="store_true", help='print {"devices": [...]} on stdout')
    args = p.parse_args(argv)
    if args.count > 1 and (not args.link or "{n}" not in args.link):
        p.error("--count > 1 needs --link containing {n}")

    mic = None
    if args.microphone_wav:
        try:
            mic = wav_microphone(args.microphone_wav)
        except (OSError, ValueError) as exc:   # edgert's InputError is a ValueError too
            p.error(f"--microphone-wav: {exc}")
    boards: List[Union[AtFirmware, ForwarderBoard]] = []
    for n in range(args.count):
        link = args.link.format(n=n) if args.link else None
        faults = Faults(garble_rate=args.garble, truncate_rate=args.truncate,
                        byte_delay=args.byte_delay, seed=n + 1)
        if args.forwarder:
            sep = {"tab": "\t", "space": " "}.get(args.separator, args.separator)
            board: Union[AtFirmware, ForwarderBoard] = ForwarderBoard(
                link, n_axes=args.axes, frequency=args.frequency, separator=sep,
                faults=faults, keep_sent=False, seed=n)
        else:
            board = AtFirmware(link, device_id=args.device_id.format(n=n),
                               firmware=args.firmware, time_scale=args.time_scale,
                               faults=faults, seed=n, microphone_source=mic,
                               mic_padding=args.mic_padding)
        boards.append(board.start())

    devices = [b.device for b in boards]
    if args.json:
        json.dump({"devices": devices, "ptys": [b.link.slave_name for b in boards]},
                  sys.stdout)
        sys.stdout.write("\n")
    else:
        for b in boards:
            sys.stdout.write(f"board on {b.device} (pty {b.link.slave_name})\n")
    sys.stdout.flush()

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    def replug(*_):
        def run():
            for b in boards:
                b.unplug()
            time.sleep(args.replug_after)
            for b in boards:
                b.link.plug_back()
        threading.Thread(target=run, daemon=True).start()

    signal.signal(signal.SIGUSR1, replug)
    try:
        while not stop.wait(0.2):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        for b in boards:
            b.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
