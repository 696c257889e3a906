"""Regenerate samples/ from ei-sdk-reference.json (run from this directory).

Each recording concatenates the raw 2-second windows (125 x 3 at 62.5 Hz) of
ei-sdk-reference.json that Edge Impulse's SDK classified as the same label, in index order,
written as data-acquisition documents signed with HS256 and the demo key "edgert-demo-key"
(JSON, plus one CBOR and one CSV copy). The joins between windows are discontinuities the
original recordings did not have, so windows that straddle a join may classify differently
than the SDK's own windows; the windows that start at a multiple of 125 samples are the SDK's.
"""
import json
from pathlib import Path

import numpy as np

from edgert.acquisition import DataAcquisition, Sensor, encode_cbor, encode_json

HERE = Path(__file__).resolve().parent
KEY = "edgert-demo-key"


def main() -> None:
    ref = json.loads((HERE / "ei-sdk-reference.json").read_text())
    by_label: dict[str, list] = {}
    for w in ref["windows"]:
        label = max(w["classification"], key=w["classification"].get)
        by_label.setdefault(label, []).append(w)
    out = HERE / "samples"
    out.mkdir(exist_ok=True)
    sensors = [Sensor("accX", "m/s2"), Sensor("accY", "m/s2"), Sensor("accZ", "m/s2")]
    for label, wins in sorted(by_label.items()):
        wins = wins[:4]
        values = np.concatenate([np.asarray(w["raw"], dtype=np.float32).astype(np.float64)
                                 .reshape(125, 3) for w in wins])
        doc = DataAcquisition(device_name="ac:87:a3:0a:2d:1b", device_type="DISCO-L475VG-IOT01A",
                              interval_ms=16, sensors=sensors, values=values, alg="HS256")
        (out / f"{label}.01.json").write_bytes(encode_json(doc, KEY))
        if label == "wave":
            (out / f"{label}.02.cbor").write_bytes(encode_cbor(doc, KEY))
        if label == "updown":
            lines = ["timestamp,accX,accY,accZ"]
            for i, row in enumerate(values):
                lines.append(f"{i * 16}," + ",".join(repr(float(v)) for v in row))
            (out / f"{label}.02.csv").write_text("\n".join(lines) + "\n")
        print(label, [w["index"] for w in wins], values.shape)


if __name__ == "__main__":
    main()
