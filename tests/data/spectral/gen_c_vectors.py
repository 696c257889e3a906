"""Regenerate csrc/tests/spectral_vectors.h (static test data for the pure-C tests) from
cases.json and scipy's filter designs:  python tests/data/spectral/gen_c_vectors.py"""
import json
from pathlib import Path

import numpy as np
from scipy import signal

ROOT = Path(__file__).resolve().parents[3]
cs = json.loads((Path(__file__).parent / "cases.json").read_text())["cases"]


def arr(name, vals, typ="float"):
    s = ", ".join(repr(float(v)) + ("f" if typ == "float" else "") for v in vals)
    return f"static const {typ} {name}[{len(vals)}] = {{{s}}};\n"


out = ("/* Generated from tests/data/spectral/cases.json (cases 90, 91, 36) and scipy designs by\n"
       " * tests/data/spectral/gen_c_vectors.py; do not edit by hand. */\n")
for idx, name in [(90, "c90"), (91, "c91"), (36, "c36")]:
    c = cs[idx]
    keys = ["filter-type", "filter-cutoff", "filter-order", "fft-length", "do-log",
            "do-fft-overlap", "scale-axes"]
    out += (f"/* case {idx}: v{c['implementation_version']} fs={c['sampling_freq']} "
            f"axes={len(c['axes'])} params={ {k: c['params'][k] for k in keys} } */\n")
    out += arr(name + "_raw", c["raw"])
    out += arr(name + "_features", c["features"], "double")
b = signal.butter(4, 2 * 5.0 / 62.5, "low", output="sos").astype(np.float32)
out += "/* scipy.signal.butter(4, 2*5/62.5, 'low', output='sos').astype(float32) */\n"
out += arr("butter4_low_5_62", b.ravel())
b = signal.butter(6, 2 * 20.0 / 1000, "high", output="sos").astype(np.float32)
out += "/* scipy.signal.butter(6, 2*20/1000, 'high', output='sos').astype(float32) */\n"
out += arr("butter6_high_20_1000", b.ravel())
s = signal.cheby1(8, 0.05, 0.8 / 10, output="sos")
z = signal.sosfilt_zi(s)
out += "/* scipy.signal.cheby1(8, 0.05, 0.8/10, output='sos') and sosfilt_zi */\n"
out += arr("cheby_r10", s.ravel(), "double") + arr("cheby_r10_zi", z.ravel(), "double")
(ROOT / "csrc" / "tests" / "spectral_vectors.h").write_text(out)
