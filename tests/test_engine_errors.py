"""Bad models and bad inputs give clear errors, never a crash: truncated/corrupt flatbuffers,
unsupported operators and types, inconsistent shapes, wrong input dtype/shape, and plans
tampered with after compilation (the C core validates what it is given)."""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from edgert._ffi import ffi, lib
from edgert.engine import load_model
from tests.tflite_builder import Op, Tensor, build_model
from edgert.errors import InputError, ModelError, UnsupportedOperatorError

MODEL = Path(__file__).parent / "data" / "engine" / "motion-demo-nn-i8.tflite"


def _gather_model() -> bytes:
    ts = [Tensor("x", (4, 3)), Tensor("idx", (2,), "int32", np.array([3, 1], np.int32)),
          Tensor("g", (2, 3)), Tensor("y", (2, 3))]
    return build_model(ts, [Op("GATHER", [0, 1], [2], ("GatherOptions", {})), Op("RELU", [2], [3])],
                       [0], [3])


def test_truncated_files_raise_model_error():
    buf = MODEL.read_bytes()
    for n in list(range(0, 64)) + list(range(64, len(buf), 5)):
        with pytest.raises(ModelError):
            load_model(buf[:n], backend="native")


def test_corrupted_bytes_never_crash():
    buf = bytearray(MODEL.read_bytes())
    rng = np.random.default_rng(0)
    loaded = failed = 0
    for _ in range(300):
        b = bytearray(buf)
        for pos in rng.integers(8, len(b), int(rng.integers(1, 4))):
            b[pos] = int(rng.integers(0, 256))
        try:
            m = load_model(bytes(b), backend="native")
        except ModelError:
            failed += 1
            continue
        loaded += 1
        try:
            m.invoke_batch(np.zeros((3,) + m.inputs[0].item_shape, dtype=m.inputs[0].dtype))
        except (ModelError, InputError):
            pass
    assert failed > 0 and loaded > 0   # both outcomes occur (weights bytes vs. offsets)


@pytest.mark.parametrize("blob,msg", [(b"", "only 0 bytes"), (b"\x00" * 64, "TFL3"),
                                      (b"\x10\x00\x00\x00TFL3" + b"\xff" * 40, "corrupt or truncated")])
def test_garbage(blob, msg):
    with pytest.raises(ModelError, match=msg):
        load_model(blob)


def test_missing_file(tmp_path):
    with pytest.raises(ModelError, match="cannot read model file"):
        load_model(tmp_path / "nope.tflite")


def test_unsupported_operator_native_names_it():
    with pytest.raises(UnsupportedOperatorError,
                       match=r"operator GATHER \(version 1\) at op #0 is not supported by the native engine"):
        load_model(_gather_model(), backend="native")


def test_unsupported_operator_auto_falls_back(caplog):
    with caplog.at_level(logging.WARNING, logger="edgert.engine"):
        m = load_model(_gather_model(), backend="auto")
    assert m.backend == "tflite"
    assert any("GATHER" in r.getMessage() for r in caplog.records)
    x = np.arange(12, dtype=np.float32).reshape(4, 3) - 5
    np.testing.assert_array_equal(m.invoke(x), np.maximum(x[[3, 1]], 0))
    X = np.stack([x, -x])
    np.testing.assert_array_equal(m.invoke_batch(X)[1], np.maximum(-x[[3, 1]], 0))


def test_auto_prefers_native_and_tflite_backend_agrees():
    auto = load_model(MODEL)
    interp = load_model(MODEL, backend="tflite")
    assert (auto.backend, interp.backend) == ("native", "tflite")
    assert interp.inputs == auto.inputs or interp.inputs[0].name == auto.inputs[0].name
    X = np.random.default_rng(1).integers(-128, 128, (50, 33)).astype(np.int8)
    # desktop TFLite int8 SOFTMAX differs from Micro by up to a few 1/256
    assert np.abs(auto.invoke_batch(X).astype(int) - interp.invoke_batch(X).astype(int)).max() <= 3


def test_unsupported_types():
    ts = [Tensor("x", (1, 4), "int16", scale=0.1, zero_point=0), Tensor("y", (1, 4), "int16", scale=0.1, zero_point=0)]
    with pytest.raises(UnsupportedOperatorError, match="INT16"):
        load_model(build_model(ts, [Op("RELU", [0], [1])], [0], [1]), backend="native")
    # hybrid FC: float input, int8 weights
    ts = [Tensor("x", (1, 4)), Tensor("w", (2, 4), "int8", np.ones((2, 4), np.int8), scale=0.1, zero_point=0),
          Tensor("y", (1, 2))]
    with pytest.raises(UnsupportedOperatorError, match="hybrid"):
        load_model(build_model(ts, [Op("FULLY_CONNECTED", [0, 1, -1], [2], ("FullyConnectedOptions", {}))], [0], [2]),
                   backend="native")


def test_inconsistent_shapes_at_load():
    ts = [Tensor("x", (1, 4)), Tensor("w", (3, 4), data=np.ones((3, 4), np.float32)), Tensor("y", (1, 5))]
    with pytest.raises(ModelError, match="do not agree"):
        load_model(build_model(ts, [Op("FULLY_CONNECTED", [0, 1, -1], [2], ("FullyConnectedOptions", {}))], [0], [2]),
                   backend="native")
    ts = [Tensor("x", (1, 4)), Tensor("y", (1, 3))]
    with pytest.raises(ModelError, match="changes the number of elements"):
        load_model(build_model(ts, [Op("RESHAPE", [0], [1])], [0], [1]), backend="native")
    ts = [Tensor("x", (1, 4)), Tensor("y", (1, 4))]
    with pytest.raises(ModelError, match="refers to tensor 7"):
        load_model(build_model(ts, [Op("RELU", [7], [1])], [0], [1]), backend="native")


def test_input_dtype_and_shape_errors():
    m = load_model(MODEL, backend="native")
    with pytest.raises(InputError, match=r"expects dtype int8, got float32.*quantize"):
        m.invoke(np.zeros(33, dtype=np.float32))
    with pytest.raises(InputError, match=r"expects dtype int8, got float64"):
        m.invoke_batch(np.zeros((4, 33)))
    with pytest.raises(InputError, match=r"expects shape \(1, 33\)"):
        m.invoke(np.zeros(32, dtype=np.int8))
    with pytest.raises(InputError, match=r"batch must have shape \(N, 33\)"):
        m.invoke_batch(np.zeros((4, 1, 33), dtype=np.int8))
    with pytest.raises(ValueError, match="backend must be one of"):
        load_model(MODEL, backend="gpu")


def _invoke_status(m, n=2) -> int:
    c = m.cplan
    x = np.zeros((n, 33), dtype=np.int8)
    y = np.zeros((n, 4), dtype=np.int8)
    arena = np.zeros(4096, dtype=np.uint8)
    return lib.edgert_engine_invoke_batch(c.c, c.consts_ptr, c.consts.size, ffi.from_buffer(arena), arena.size,
                                          ffi.new("void *[]", [ffi.from_buffer(x)]), n,
                                          ffi.new("void *[]", [ffi.from_buffer(y)]))


@pytest.mark.parametrize("tamper", [
    lambda c: setattr(c.tensors[0], "offset", 1 << 20),
    lambda c: setattr(c.tensors[3], "offset", c.plan.consts_bytes),          # a constant past the blob
    lambda c: setattr(c.tensors[0], "bytes", 34),
    lambda c: c.tensors[0].dims.__setitem__(3, 0),
    lambda c: setattr(c.tensors[1], "dtype", 77),
    lambda c: setattr(c.ops[0], "type", 99),
    lambda c: getattr(c.ops[0], "in").__setitem__(1, 1000),
    lambda c: setattr(c.ops[0], "n_in", 9),
    lambda c: setattr(c.ops[0].p.fc, "depth", 34),
    lambda c: setattr(c.ops[3].p.softmax, "in_left_shift", 40),
    lambda c: setattr(c.ops[1], "out", c.plan.inputs[0]),                  # output over the input
    lambda c: setattr(c.c, "arena_bytes", 1 << 30),
    lambda c: setattr(c.c, "consts_bytes", (1 << 30)),
    lambda c: setattr(c.c, "n_inputs", 0),
])
def test_tampered_plan_rejected_by_c(tamper):
    m = load_model(MODEL, backend="native")
    assert _invoke_status(m) == 0
    tamper(m.cplan)
    st = _invoke_status(m)
    assert st in (lib.EDGERT_ERR_MODEL, lib.EDGERT_ERR_SCRATCH), st


def test_tampered_shift_arrays_rejected():
    m = load_model(MODEL, backend="native")
    c = m.cplan
    shift_t = c.plan.ops[0].inputs[4]
    off = c.plan.tensors[shift_t].offset
    c.consts.view(np.uint8)[off:off + 4] = np.frombuffer(np.int32(45).tobytes(), np.uint8)
    assert _invoke_status(m) == lib.EDGERT_ERR_MODEL
    with pytest.raises(ModelError, match="inconsistent compiled model plan|model"):
        m.invoke(np.zeros(33, np.int8))


def test_random_plan_mutations_never_crash():
    """Random values written into random int fields of the C plan: always a status, never a crash."""
    from edgert.engine.native import CPlan

    rng = np.random.default_rng(3)
    m = load_model(MODEL, backend="native")
    fields = [("tensors", i, f) for i in range(6) for f in ("dtype", "space", "offset", "bytes")] + \
             [("ops", i, f) for i in range(4) for f in ("type", "dtype", "n_in", "out")]
    for _ in range(300):
        m.cplan = c = CPlan(m.plan)
        for _k in range(int(rng.integers(1, 4))):
            arr, i, f = fields[int(rng.integers(len(fields)))]
            val = int(rng.choice([-1, 0, 1, 2, 9, 33, 64, 1 << 16, (1 << 31) - 1, int(rng.integers(0, 200))]))
            if f in ("offset", "bytes"):
                val = abs(val)
            setattr(getattr(c, arr)[i], f, val)
        assert _invoke_status(m) in (0, lib.EDGERT_ERR_MODEL, lib.EDGERT_ERR_SCRATCH)


@pytest.fixture
def no_interpreter(monkeypatch):
    """Neither ai_edge_litert nor tflite_runtime importable (a None in sys.modules makes the
    import raise ImportError), as on an install without the interpreter extras."""
    import sys
    for mod in ("ai_edge_litert", "ai_edge_litert.interpreter", "tflite_runtime",
                "tflite_runtime.interpreter"):
        monkeypatch.setitem(sys.modules, mod, None)


def test_missing_interpreter_names_the_extras(no_interpreter):
    with pytest.raises(ModelError, match=r"none is installed: pip install 'edgert\[litert\]'"):
        load_model(MODEL, backend="tflite")
    with pytest.raises(UnsupportedOperatorError,
                       match=r"GATHER.*no TFLite interpreter is installed.*pip install 'edgert\[litert\]'"):
        load_model(_gather_model(), backend="auto")
    assert load_model(MODEL, backend="auto").backend == "native"   # no interpreter needed


def test_interpreter_extras_declared():
    """The extras the error message names exist in pyproject.toml."""
    tomllib = pytest.importorskip("tomllib")   # Python >= 3.11
    extras = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]
    assert any(r.startswith("ai-edge-litert") for r in extras["litert"])
    assert any(r.startswith("tflite-runtime") for r in extras["tflite-runtime"])


def test_invoke_one_validates_its_arguments():
    """edgert_engine_invoke_one (the single-invoke fast path): input size, NULLs and the plan
    are checked on every call."""
    m = load_model(MODEL, backend="native")
    c = m.cplan
    arena = np.zeros(4096, dtype=np.uint8)
    y = np.zeros(4, dtype=np.int8)
    outs = ffi.new("void *[]", [ffi.from_buffer(y, require_writable=True)])
    s = ffi.new("edgert_engine_session *", {"plan": c.c, "consts": c.consts_ptr, "consts_bytes": c.consts.size,
                                            "arena": ffi.from_buffer(arena), "arena_bytes": arena.size,
                                            "outputs": outs})
    x = np.arange(-16, 17, dtype=np.int8)
    assert lib.edgert_engine_invoke_one(s, x.tobytes(), 33) == 0
    np.testing.assert_array_equal(y, m.invoke_batch(x[None])[0])
    assert lib.edgert_engine_invoke_one(s, x.tobytes()[:32], 32) == lib.EDGERT_ERR_SHAPE
    assert lib.edgert_engine_invoke_one(s, ffi.NULL, 33) == lib.EDGERT_ERR_NULL
    assert lib.edgert_engine_invoke_one(ffi.NULL, x.tobytes(), 33) == lib.EDGERT_ERR_NULL
    s.arena_bytes = 8
    assert lib.edgert_engine_invoke_one(s, x.tobytes(), 33) == lib.EDGERT_ERR_SCRATCH
    s.arena_bytes = arena.size
    c.ops[0].p.fc.depth = 34
    assert lib.edgert_engine_invoke_one(s, x.tobytes(), 33) == lib.EDGERT_ERR_MODEL


def test_single_invoke_input_forms():
    """Every accepted input form gives the batch's result; every wrong one an InputError."""
    m = load_model(MODEL, backend="native")
    rng = np.random.default_rng(4)
    X = rng.integers(-128, 128, (6, 33)).astype(np.int8)
    want = m.invoke_batch(X)
    wide = np.zeros((6, 66), np.int8)
    wide[:, ::2] = X
    for i in range(6):
        for form in (X[i], X[i][None], wide[i, ::2], wide[i, ::2][None],     # strided views
                     np.asfortranarray(X[i][None]), X[i].copy()):
            np.testing.assert_array_equal(m.invoke(form), want[i][None])
    for bad, msg in ((X[0].astype(np.int16), "dtype int8, got int16"), (X[0].tolist(), "dtype int8"),
                     (X[0][:32], "shape"), (X[0].reshape(33, 1), "shape"), (X[:2], "shape"),
                     (np.int8(3), "shape"), (X[0].astype(np.dtype(">f4")), "dtype int8")):
        with pytest.raises(InputError, match=msg):
            m.invoke(bad)
    # after the errors the thread's buffers still give the right answers
    np.testing.assert_array_equal(m.invoke(X[5]), want[5][None])


def test_tflite_runtime_used_when_ai_edge_litert_is_missing(monkeypatch):
    """Without ai_edge_litert the "tflite" backend takes tflite_runtime's Interpreter (same
    API; tflite-runtime itself needs numpy < 2, so ai-edge-litert's module stands in for it
    under the tflite_runtime name here)."""
    import sys
    import types

    import ai_edge_litert.interpreter as litert

    stand_in = types.ModuleType("tflite_runtime")
    stand_in.interpreter = litert
    monkeypatch.setitem(sys.modules, "ai_edge_litert", None)
    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)
    monkeypatch.setitem(sys.modules, "tflite_runtime", stand_in)
    monkeypatch.setitem(sys.modules, "tflite_runtime.interpreter", litert)
    from edgert.engine.model import interpreter_class
    assert interpreter_class() is litert
    m = load_model(MODEL, backend="tflite")
    X = np.random.default_rng(2).integers(-128, 128, (20, 33)).astype(np.int8)
    native = load_model(MODEL, backend="native").invoke_batch(X)
    assert m.backend == "tflite" and np.abs(m.invoke_batch(X).astype(int) - native).max() <= 3


@pytest.mark.parametrize("version", [4, 0])
def test_operator_version_outside_the_supported_range(version):
    ts = [Tensor("x", (1, 4)), Tensor("y", (1, 4))]
    model = build_model(ts, [Op("RELU", [0], [1], version=version)], [0], [1])
    with pytest.raises(UnsupportedOperatorError, match=rf"RELU \(version {version}\) at op #0"):
        load_model(model, backend="native")
    ok = build_model(ts, [Op("RELU", [0], [1], version=3)], [0], [1])
    assert load_model(ok, backend="native").backend == "native"


def test_batch_input_forms():
    """invoke_batch: strided, Fortran-ordered and read-only batches give the contiguous
    batch's result (the fast path takes only C-contiguous arrays, the rest is copied)."""
    m = load_model(MODEL, backend="native")
    X = np.random.default_rng(6).integers(-128, 128, (9, 33)).astype(np.int8)
    want = m.invoke_batch(X)
    wide = np.zeros((18, 66), np.int8)
    wide[::2, ::2] = X
    ro = X.copy()
    ro.flags.writeable = False
    for form in (wide[::2, ::2], np.asfortranarray(X), ro, list(X)):
        np.testing.assert_array_equal(m.invoke_batch(form), want)
    np.testing.assert_array_equal(m.invoke_batch(X[3:4]), want[3:4])
    for bad, msg in ((X.astype(np.int16), "dtype int8, got int16"), (X[:, :32], r"\(N, 33\)"),
                     (X[None], r"\(N, 33\)"), (X[0], r"\(N, 33\)")):
        with pytest.raises(InputError, match=msg):
            m.invoke_batch(bad)


def _demo_mutations(n: int, seed: int):
    """The demo classifier with a few random bytes changed (deterministic)."""
    buf = MODEL.read_bytes()
    rng = np.random.default_rng(seed)
    for _ in range(n):
        b = bytearray(buf)
        for pos in rng.integers(8, len(b), int(rng.integers(1, 9))):
            b[pos] = int(rng.integers(0, 256))
        yield bytes(b)


def test_auto_backend_corrupt_models_are_model_errors(caplog):
    """backend="auto" hands a model the native engine refuses to the TFLite interpreter; a
    corrupt one must still come out as ModelError, never the interpreter's ValueError /
    RuntimeError / UnicodeDecodeError (found by fuzzing: a mutated tensor name made
    get_output_details() raise UnicodeDecodeError)."""
    outcomes = {"loaded": 0, "rejected": 0}
    with caplog.at_level(logging.ERROR, logger="edgert.engine"):
        for buf in _demo_mutations(600, 17):   # case 477 once escaped as UnicodeDecodeError
            try:
                load_model(buf, backend="auto")
                outcomes["loaded"] += 1
            except ModelError:
                outcomes["rejected"] += 1
    assert outcomes["loaded"] and outcomes["rejected"], outcomes


def test_auto_backend_unknown_operator_code_is_corrupt_not_a_fallback(caplog, monkeypatch):
    """An operator code TFLite does not define is a corrupt file, not a missing operator of a
    valid model: ModelError at once, no interpreter fallback (no warning)."""
    import tflite
    monkeypatch.setattr(tflite.BuiltinOperator, "EDGERT_NOT_AN_OP", 4000, raising=False)
    ts = [Tensor("x", (1, 4)), Tensor("y", (1, 4))]
    buf = build_model(ts, [Op("EDGERT_NOT_AN_OP", [0], [1])], [0], [1])
    with caplog.at_level(logging.WARNING, logger="edgert.engine"):
        with pytest.raises(ModelError, match="corrupt TFLite model: operator codes "
                                             "BUILTIN_4000 are not TFLite operators"):
            load_model(buf, backend="auto")
    assert not any("falling back" in r.getMessage() for r in caplog.records)
    with pytest.raises(UnsupportedOperatorError):    # native says what it is
        load_model(buf, backend="native")


def test_auto_backend_model_both_engines_refuse(monkeypatch):
    """A model the native engine refuses and the interpreter rejects too: one ModelError
    that says both."""
    from edgert.engine import model as model_mod

    class Refusing:
        class Interpreter:
            def __init__(self, **kwargs):
                raise RuntimeError("Didn't find op for builtin opcode 'GATHER' version '1'")

    monkeypatch.setattr(model_mod, "interpreter_class", lambda: Refusing)
    import edgert.engine as engine_mod
    monkeypatch.setattr(engine_mod, "interpreter_class", lambda: Refusing)
    with pytest.raises(ModelError, match=r"corrupt or unsupported TFLite model: the native "
                                         r"engine refused it \(operator GATHER.*and the TFLite "
                                         r"interpreter rejected the model \(RuntimeError"):
        load_model(_gather_model(), backend="auto")
