"""Regenerate the example recordings from ei-sdk-reference.json (run from this directory).

Two sets, both made of the raw 2-second windows (125 x 3 at 62.5 Hz) of ei-sdk-reference.json,
written as data-acquisition documents signed with HS256 and the demo key "edgert-demo-key":

- ``sdk-windows/``: every reference window as its own 2-second recording, named after the
  label Edge Impulse's SDK gave it (its highest probability): ``wave.00.json`` is window 0.
  Classifying one of these is exactly one window, the one the SDK classified - the honest
  first thing to run (README.md).
- ``samples/``: the windows the SDK classified as the same label, concatenated in index order
  (JSON, plus one CBOR and one CSV copy). The reference windows are independent 2-second
  captures, not consecutive pieces of one recording, so the joins are discontinuities the
  original signals did not have: windows that straddle a join see a jump no real motion
  makes and the K-means block flags them as anomalous - these files show the anomaly
  detector at work; the windows that start at a multiple of 125 samples are the SDK's.
"""
import json
from pathlib import Path

import numpy as np

from edgert.acquisition import DataAcquisition, Sensor, encode_cbor, encode_json

HERE = Path(__file__).resolve().parent
KEY = "edgert-demo-key"
SENSORS = [Sensor("accX", "m/s2"), Sensor("accY", "m/s2"), Sensor("accZ", "m/s2")]


def window_values(w: dict) -> np.ndarray:
    """One reference window's raw values (125, 3), float32 as the SDK read them."""
    return np.asarray(w["raw"], dtype=np.float32).astype(np.float64).reshape(125, 3)


def sdk_label(w: dict) -> str:
    """The label with the SDK's highest probability (the first of equal ones, in label
    order)."""
    return max(w["classification"], key=w["classification"].get)


def document(values: np.ndarray) -> DataAcquisition:
    return DataAcquisition(device_name="ac:87:a3:0a:2d:1b", device_type="DISCO-L475VG-IOT01A",
                           interval_ms=16, sensors=SENSORS, values=values, alg="HS256")


def main() -> None:
    ref = json.loads((HERE / "ei-sdk-reference.json").read_text())
    one = HERE / "sdk-windows"
    one.mkdir(exist_ok=True)
    for w in ref["windows"]:
        name = f"{sdk_label(w)}.{w['index']:02d}.json"
        (one / name).write_bytes(encode_json(document(window_values(w)), KEY))
    by_label: dict[str, list] = {}
    for w in ref["windows"]:
        by_label.setdefault(sdk_label(w), []).append(w)
    out = HERE / "samples"
    out.mkdir(exist_ok=True)
    for label, wins in sorted(by_label.items()):
        wins = wins[:4]
        values = np.concatenate([window_values(w) for w in wins])
        doc = document(values)
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
