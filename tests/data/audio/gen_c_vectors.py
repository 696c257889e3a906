"""Regenerate csrc/tests/audio_vectors.h (static test data for the pure-C tests) from a few
small cases of cases.json:  python tests/data/audio/gen_c_vectors.py"""
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
doc = json.loads((Path(__file__).parent / "cases.json").read_text())
cases, inputs = doc["cases"], doc["inputs"]
BLOCKS = {"mfcc": "EDGERT_AUDIO_MFCC", "mfe": "EDGERT_AUDIO_MFE",
          "spectrogram": "EDGERT_AUDIO_SPECTROGRAM"}


def arr(name, vals, typ):
    suffix = "f" if typ == "float" else ""
    body = ", ".join(repr(float(v)) + suffix for v in vals)
    return f"static const {typ} {name}[{len(vals)}] = {{{body}}};\n"


def pick():
    """One case per block and version on the smallest inputs (sensor windows, 0.5 s speech)."""
    want = [("mfcc", v, "speech_16k_half", {"win_size": 51}) for v in (1, 2, 3, 4)]
    want += [("mfe", v, "vibration_1k_ms2", {}) for v in (1, 2, 3, 4)]
    want += [("spectrogram", v, "sine11_100hz", {}) for v in (1, 2, 3, 4)]
    want += [("spectrogram", v, "vibration_1k_in_range", {}) for v in (3, 4)]
    out = []
    for block, ver, inp, extra in want:
        for i, c in enumerate(cases):
            if (c["block"], c["implementation_version"], c.get("input")) == (block, ver, inp) \
                    and "features" in c and all(c["params"].get(k) == v for k, v in extra.items()):
                out.append(i)
                break
        else:
            raise SystemExit(f"no case for {block} v{ver} {inp} {extra}")
    return out


text = ("/* Generated from tests/data/audio/cases.json by tests/data/audio/gen_c_vectors.py; do not\n"
        " * edit by hand. */\n")
used, entries = [], []
for i in pick():
    c = cases[i]
    p = c["params"]
    if c["input"] not in used:
        used.append(c["input"])
        text += arr("in_" + c["input"], inputs[c["input"]]["raw"], "float")
    text += f"/* case {i}: {c['block']} v{c['implementation_version']} {c['input']} {p} */\n"
    text += arr(f"case{i}_features", c["features"], "double")
    entries.append(
        f"    {{{i}, {BLOCKS[c['block']]}, {c['implementation_version']}, {c['sampling_freq']}, "
        f"{p['frame_length']!r}, {p['frame_stride']!r}, {p['fft_length']}, {p.get('num_filters', 0)}, "
        f"{p.get('num_cepstral', 0)}, {p.get('win_size', 0)}, {float(p.get('low_frequency') or 0)!r}, "
        f"{float(p.get('high_frequency') or 0)!r}, {float(p.get('pre_cof', 0))!r}, {p.get('pre_shift', 0)}, "
        f"{float(p.get('noise_floor_db', -52))!r}, in_{c['input']}, "
        f"{len(inputs[c['input']]['raw'])}, case{i}_features, {len(c['features'])}}},")
text += """
typedef struct {
    int index, block, version;
    double fs, frame_length, frame_stride;
    int fft_length, num_filters, num_cepstral, win_size;
    double low, high, pre_cof;
    int pre_shift;
    double noise_floor_db;
    const float *raw;
    int n_raw;
    const double *features;
    int n_features;
} audio_case;

static const audio_case audio_cases[] = {
""" + "\n".join(entries) + "\n};\n"
(ROOT / "csrc" / "tests" / "audio_vectors.h").write_text(text)
