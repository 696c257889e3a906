"""Corrupt models never crash the native engine.

Each fixture of tests/data/models/ is mutated with a fixed seed - truncated at many offsets,
random bytes flipped, 4-byte-aligned int32 words overwritten with hostile values (0, -1,
INT32_MIN/MAX, the buffer length, small counts), the fields a bad model attacks best set to
hostile values (tensor shapes, types, buffer and tensor indices, opcode indices, NaN/inf/0
scales, out-of-range zero points, quantized dimensions), plus zero-length and random garbage - and every case must either load and run (any output) or raise
:class:`edgert.errors.ModelError` (UnsupportedOperatorError is a subclass). Anything else - a
different exception, a hang, a segfault - is a failure.

The cases run in a subprocess (this file with ``--worker``) so that a segfault or abort is
reported as a failing test naming the case, instead of killing pytest. The worker prints each
case before running it, limits its address space to 4 GiB (a huge allocation becomes a
MemoryError, which counts as a failure, instead of swapping the machine) and stops at a case
count or a time budget, whichever comes first.
"""
from __future__ import annotations

import glob
import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
MODELS = os.path.join(HERE, "data", "models")
SEED = 20261122
MAX_CASES = 3000
TIME_BUDGET_S = 8.0
SUBPROCESS_TIMEOUT_S = 120.0
# A short run (e.g. a very slow machine) still has to cover this many cases to mean anything.
MIN_CASES = 300

HOSTILE_INT32 = [0, 1, 2, 3, 4, 7, 8, 16, 255, 256, 65535, 0x7FFFFFFF, -1, -2, -8,
                 -0x80000000, 0x40000000, 0x10000]


# int32 overwrites (fixture, byte offset, value) that once made the engine raise something
# other than ModelError (struct.error, IndexError, OverflowError, TypeError from the reader and
# the plan marshalling): always run first, whatever the time budget.
REGRESSIONS = [
    ("softmax_f32.tflite", 556, -2147483648), ("softmax_f32.tflite", 676, 65535),
    ("softmax_f32.tflite", 536, 255), ("softmax_i8.tflite", 564, -1),
    ("ops_mix_f32.tflite", 4336, 1577393087), ("ops_mix_fio_i8.tflite", 4908, 1392619077),
    ("ops_mix_i8.tflite", 1968, -1521716221), ("ops_mix_i8.tflite", 1720, -631564081),
    ("gmm_f32.tflite", 1564, 490959453), ("conv2d_pc_f32.tflite", 6252, 1563841047),
    ("squeeze_f32.tflite", 404, 1693252006), ("dense_fio_i8.tflite", 2180, 689336221),
]


def fixtures() -> list:
    return sorted(glob.glob(os.path.join(MODELS, "*.tflite")))


def field_positions(buf: bytes) -> list:
    """(kind, absolute byte offset) of the flatbuffer fields a corrupt model attacks best:
    tensor shape entries, types, buffer indices, quantization scales / zero points /
    quantized dimension, operator input/output tensor indices and opcode indices."""
    import tflite

    out = []
    m = tflite.Model.GetRootAsModel(buf, 0)

    def field(tab, slot):
        o = tab.Offset(slot)
        return tab.Pos + o if o else None

    def vec(tab, slot, kind, elem):
        o = tab.Offset(slot)
        if o:
            start, n = tab.Vector(o), tab.VectorLen(o)
            out.extend((kind, start + i * elem) for i in range(n))

    for g in range(m.SubgraphsLength()):
        sg = m.Subgraphs(g)
        for i in range(sg.TensorsLength()):
            t = sg.Tensors(i)
            vec(t._tab, 4, "shape", 4)
            for slot, kind in ((6, "type"), (8, "buffer")):
                p = field(t._tab, slot)
                if p is not None:
                    out.append((kind, p))
            q = t.Quantization()
            if q is not None:
                vec(q._tab, 8, "scale", 4)
                vec(q._tab, 10, "zero_point", 8)
                p = field(q._tab, 16)
                if p is not None:
                    out.append(("qdim", p))
        for i in range(sg.OperatorsLength()):
            op = sg.Operators(i)
            vec(op._tab, 6, "tensor_index", 4)
            vec(op._tab, 8, "tensor_index", 4)
            p = field(op._tab, 4)
            if p is not None:
                out.append(("opcode_index", p))
    return out


def mutate_field(buf: bytes, kind: str, pos: int, rng) -> tuple:
    """A hostile value for the field at `pos`: (description, mutated bytes)."""
    b = bytearray(buf)
    if kind == "shape":
        val = int(rng.choice([-1, 0, -7, 2 ** 31 - 1, 1 << 16, 1 << 20, 3, 1000]))
        b[pos:pos + 4] = np.int32(val).tobytes()
    elif kind == "type":
        val = int(rng.integers(0, 20))
        b[pos] = val
    elif kind in ("buffer", "opcode_index"):
        val = int(rng.choice([1, 2, 5, 50, 2 ** 32 - 1, 2 ** 31]))
        b[pos:pos + 4] = np.uint32(val).tobytes()
    elif kind == "tensor_index":
        val = int(rng.choice([-1, -2, 0, 1, 2, 3, 40, 2 ** 31 - 1]))
        b[pos:pos + 4] = np.int32(val).tobytes()
    elif kind == "scale":
        val = float(rng.choice([np.nan, np.inf, -np.inf, 0.0, -1.0, 1e-30, 1e30, 1.0]))
        b[pos:pos + 4] = np.float32(val).tobytes()
    elif kind == "zero_point":
        val = int(rng.choice([-129, 128, 255, -128, 127, 2 ** 40, -(2 ** 63)]))
        b[pos:pos + 8] = np.int64(val).tobytes()
    else:  # qdim
        val = int(rng.choice([-1, 1, 3, 4, 100]))
        b[pos:pos + 4] = np.int32(val).tobytes()
    return f"{kind} := {val} at {pos}", bytes(b)


def cases(seed: int):
    """Yield (description, model bytes) deterministically: corpus-wide cases first, then per
    fixture truncations, byte flips and int32 overwrites, round-robin over the fixtures so a
    time-bounded run still touches every model."""
    rng = np.random.default_rng(seed)
    for name, pos, val in REGRESSIONS:
        path = os.path.join(MODELS, name)
        if os.path.exists(path):
            b = bytearray(open(path, "rb").read())
            if pos + 4 <= len(b):
                b[pos:pos + 4] = np.int32(val).tobytes()
                yield f"{name} int32 {val} at {pos} (regression)", bytes(b)
    yield "empty", b""
    yield "identifier only", b"\x00\x00\x00\x00TFL3"
    yield "root offset past end", b"\xff\xff\xff\x7fTFL3" + bytes(8)
    for n in (1, 3, 4, 7, 8, 12, 16, 64, 1000):
        yield f"garbage {n}", rng.integers(0, 256, n, dtype=np.uint8).tobytes()
        g = bytearray(rng.integers(0, 256, max(n, 8), dtype=np.uint8).tobytes())
        g[4:8] = b"TFL3"
        yield f"garbage {len(g)} with identifier", bytes(g)

    models = [(os.path.basename(p), open(p, "rb").read()) for p in fixtures()]
    per_model = []
    for name, buf in models:
        n = len(buf)
        ops = []
        cut = sorted(set(list(range(0, min(n, 48))) + list(np.linspace(48, n - 1, 40).astype(int))
                         + list(rng.integers(0, n, 40))))
        ops += [("trunc", int(c)) for c in cut]
        ops += [("flip", int(k)) for k in range(150)]
        ops += [("int32", int(k)) for k in range(200)]
        fields = field_positions(buf)
        ops += [("field", int(k)) for k in rng.integers(0, len(fields), 200)]
        rng.shuffle(ops)
        per_model.append((name, buf, ops, fields))

    depth = max(len(ops) for _, _, ops, _ in per_model)
    for i in range(depth):
        for name, buf, ops, fields in per_model:
            if i >= len(ops):
                continue
            kind, k = ops[i]
            if kind == "trunc":
                yield f"{name} truncated to {k}", buf[:k]
            elif kind == "field":
                desc, mutated = mutate_field(buf, *fields[k], rng)
                yield f"{name} {desc}", mutated
            elif kind == "flip":
                b = bytearray(buf)
                m = int(rng.integers(1, 9))
                pos = rng.integers(0, len(b), m)
                for p in pos:
                    b[p] = int(rng.integers(0, 256))
                yield f"{name} flip {m} bytes at {pos.tolist()}", bytes(b)
            else:
                b = bytearray(buf)
                pos = int(rng.integers(0, len(b) // 4)) * 4
                if rng.random() < 0.6:
                    val = int(rng.choice(HOSTILE_INT32 + [len(b), len(b) + 4, len(b) - 4]))
                else:
                    val = int(rng.integers(-(2 ** 31), 2 ** 31))
                b[pos:pos + 4] = np.int32(np.int64(val).astype(np.int32)).tobytes()
                yield f"{name} int32 {val} at {pos}", bytes(b)


def _zeros_for(info) -> np.ndarray:
    shape = tuple(int(d) for d in info.shape)
    if any(d < 0 for d in shape) or int(np.prod(shape, dtype=np.int64)) > 50_000_000:
        raise AssertionError(f"engine accepted an input of shape {shape}")
    return np.zeros(shape, np.dtype(info.dtype))


def run_case(buf: bytes) -> str:
    """'loaded' or 'rejected'; any other exception propagates."""
    from edgert.engine import load_model
    from edgert.errors import ModelError

    try:
        m = load_model(buf, backend="native")
    except ModelError:
        return "rejected"
    xs = [_zeros_for(i) for i in m.inputs]
    try:
        m.invoke(xs[0] if len(xs) == 1 else xs)
        X = [np.zeros((3,) + x.shape[1:], x.dtype) for x in xs]
        m.invoke_batch(X[0] if len(X) == 1 else X)
    except ModelError:
        return "rejected at invoke"
    return "loaded"


def worker(seed: int, max_cases: int, budget: float) -> int:
    import faulthandler
    import resource

    faulthandler.enable()
    lim = 4 << 30
    resource.setrlimit(resource.RLIMIT_AS, (lim, lim))
    sys.path.insert(0, ROOT)
    t0 = time.monotonic()
    counts: dict = {}
    bad = []
    n = 0
    for desc, buf in cases(seed):
        if n >= max_cases or time.monotonic() - t0 > budget:
            break
        print(f"CASE {n} {desc}", flush=True)
        try:
            outcome = run_case(buf)
        except BaseException as exc:  # noqa: BLE001 - every other exception is a finding
            outcome = "bad"
            bad.append(f"{desc}: {type(exc).__name__}: {str(exc)[:200]}")
        counts[outcome] = counts.get(outcome, 0) + 1
        n += 1
    print("SUMMARY " + json.dumps({"cases": n, "counts": counts, "bad": bad[:30],
                                   "n_bad": len(bad), "seconds": time.monotonic() - t0}),
          flush=True)
    return 0


def test_corrupt_models_load_run_or_raise_model_error():
    proc = subprocess.run(
        [sys.executable, "-X", "faulthandler", os.path.abspath(__file__), "--worker",
         str(SEED), str(MAX_CASES), str(TIME_BUDGET_S)],
        cwd=ROOT, capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S)
    lines = proc.stdout.splitlines()
    summary = [ln for ln in lines if ln.startswith("SUMMARY ")]
    if proc.returncode != 0 or not summary:
        last = [ln for ln in lines if ln.startswith("CASE ")][-1:] or ["(no case started)"]
        pytest.fail(f"fuzz worker died (exit {proc.returncode}) during {last[0]!r}\n"
                    f"stderr tail:\n{proc.stderr[-3000:]}")
    s = json.loads(summary[0][len("SUMMARY "):])
    assert s["n_bad"] == 0, (f"{s['n_bad']} of {s['cases']} corrupt models raised something "
                             "other than ModelError:\n" + "\n".join(s["bad"]))
    assert s["cases"] >= MIN_CASES, s
    # The mutations must exercise both paths, or the fuzz is not reaching the engine.
    assert s["counts"].get("rejected", 0) > 0 and s["counts"].get("loaded", 0) > 0, s


def test_case_generation_is_deterministic():
    import itertools

    a = [(d, hash(b)) for d, b in itertools.islice(cases(SEED), 500)]
    b = [(d, hash(b)) for d, b in itertools.islice(cases(SEED), 500)]
    assert a == b and len(set(a)) > 450


if __name__ == "__main__" and "--worker" in sys.argv:
    i = sys.argv.index("--worker")
    sys.exit(worker(int(sys.argv[i + 1]), int(sys.argv[i + 2]), float(sys.argv[i + 3])))
