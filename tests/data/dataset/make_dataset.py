"""Generate the test dataset ``motion/`` from the raw accelerometer windows of
``tests/data/motion-demo/ei-sdk-reference.json`` (Edge Impulse's demo impulse inputs, see that
folder's README). Run from the repository root: ``python tests/data/dataset/make_dataset.py``.

Every file is deterministic (fixed ``iat``, fixed keys); ``motion/README.md`` lists what each
file exercises. The HMAC key of the valid signatures is ``KEY`` below.
"""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
sys.path.insert(0, str(ROOT))

from edgert.acquisition import DataAcquisition, Sensor, encode_cbor, encode_json  # noqa: E402

KEY = "dataset-test-hmac-key"
WRONG_KEY = "not-the-project-key"
IAT = 1763700000          # 2025-11-21T04:40:00Z
SENSORS = [Sensor("accX", "m/s2"), Sensor("accY", "m/s2"), Sensor("accZ", "m/s2")]


def windows() -> list:
    ref = json.loads((ROOT / "tests/data/motion-demo/ei-sdk-reference.json").read_text())
    return [np.asarray(w["raw"], dtype=np.float64).reshape(125, 3) for w in ref["windows"]]


def doc(values: np.ndarray, *, alg: str = "HS256", interval_ms: float = 16.0,
        iat: int | None = IAT, device: str = "ac:87:a3:0a:2d:1b") -> DataAcquisition:
    return DataAcquisition(device_name=device, device_type="DISCO-L475VG-IOT01A",
                           interval_ms=interval_ms, sensors=list(SENSORS),
                           values=np.asarray(values, dtype=np.float64), alg=alg, iat=iat)


def write_json(path: Path, d: DataAcquisition, key: str | None = KEY) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(encode_json(d, key if d.alg == "HS256" else None))


def write_cbor(path: Path, d: DataAcquisition, key: str | None = KEY) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(encode_cbor(d, key if d.alg == "HS256" else None))


def write_csv(path: Path, values: np.ndarray, interval_ms: float, header: list) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [",".join(header)]
    for i, row in enumerate(np.atleast_2d(values.T).T):
        lines.append(",".join([f"{i * interval_ms:g}"] + [repr(float(v)) for v in row]))
    path.write_text("\n".join(lines) + "\n")


def main(out: Path) -> None:
    if out.exists():
        shutil.rmtree(out)
    w = windows()
    t, tr, an = out / "testing", out / "training", out / "anomaly"
    # testing: one SDK window per file unless said otherwise
    write_json(t / "wave.00.json", doc(w[0]))
    write_json(t / "idle.01.json", doc(w[1]))
    write_cbor(t / "idle.02.cbor", doc(w[2]), key=WRONG_KEY)           # invalid signature
    write_cbor(t / "updown.06.cbor", doc(w[6], alg="none", iat=None))  # unsigned
    write_json(t / "snake.07.json", doc(w[7]))
    write_json(t / "idle.long.json", doc(np.concatenate([w[1], w[2], w[3]])))  # 51 windows
    write_json(t / "updown.09.json", doc(w[9]))
    write_json(t / "updown.16.json", doc(w[16]))      # SDK anomaly 0.301 > 0.3: "anomaly"
    write_csv(t / "wave.13.csv", w[13], 16.0, ["timestamp", "accX", "accY", "accZ"])
    write_json(t / "snake.25.json", doc(w[25]))       # SDK top score 0.5 < 0.6: "uncertain"
    write_json(t / "wave.11.json", doc(w[11]))        # an idle window labelled wave
    # 125 Hz (interval 8 ms): w[4] linearly upsampled; the impulse resamples it to 62.5 Hz
    x = np.arange(250) / 2.0
    fast = np.stack([np.interp(x, np.arange(125), w[4][:, a]) for a in range(3)], axis=1)
    write_json(t / "idle.fast.json", doc(fast, interval_ms=8.0))
    write_json(t / "idle.short.json", doc(w[20][:50]))  # shorter than a window: zero-padded
    (t / "broken.json").write_bytes(encode_json(doc(w[5]), KEY)[:300])   # truncated
    (t / "garbage.cbor").write_bytes(bytes(range(7, 250, 3)))             # not CBOR
    for name, meta in (("wave.00.json", {"site": "A", "machine": "m2"}),
                       ("idle.01.json", {"site": "A", "machine": "m1"}),
                       ("snake.07.json", {"site": "B"})):
        (t / (name + ".metadata.json")).write_text(json.dumps(meta) + "\n")
    # training: known-good recordings (anomaly fit) and odd ones
    for i in (14, 15, 17, 18, 19, 21, 22, 29):
        write_json(tr / f"idle.{i:02d}.json", doc(w[i]))
    write_json(tr / "idle.long.json", doc(np.concatenate([w[8], w[10], w[12]])))
    write_json(tr / "wave.long.json", doc(np.concatenate([w[0], w[13]])))
    write_json(tr / "reg.a.json", doc(w[23]))         # numeric labels from the manifest
    write_json(tr / "reg.b.json", doc(w[24]))
    audio = (np.sin(np.arange(1600) * 0.3) * 1000).round()
    write_csv(tr / "noise.csv", audio, 0.0625, ["timestamp", "audio (wav)"])  # 1 axis, 16 kHz
    # anomaly bucket
    write_json(an / "anomaly.27.json", doc(w[27]))
    # outside the category folders: category, label and metadata from the manifest
    write_json(out / "loose.json", doc(w[28]))
    manifest = {"version": 1, "files": [
        {"path": "loose.json", "category": "testing",
         "label": {"type": "label", "label": "snake"}, "metadata": {"site": "C"}},
        {"path": "training/reg.a.json", "label": {"type": "label", "label": "1.5"}},
        {"path": "training/reg.b.json", "label": {"type": "label", "label": "3.25"}},
    ]}
    (out / "info.labels").write_text(json.dumps(manifest, indent=1) + "\n")


if __name__ == "__main__":
    main(HERE / "motion")
