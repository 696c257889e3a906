"""MLPerf Tiny's reference int8 models (tests/data/models/mlperf-tiny/, provenance in SOURCES.md)
on the native engine: every one is supported, and bit-exact with the tflite-micro interpreter
(the kernels Edge Impulse's SDK and the MLPerf Tiny reference submissions run) on edge inputs
(all -128, all 127, the zero point and its neighbours, alternating extremes) and random ones."""
from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import pytest

from tests.oracles import MicroOracle, edge_inputs

HERE = Path(__file__).parent / "data" / "models" / "mlperf-tiny"
MODELS = ["ad01_int8.tflite", "kws_ref_model.tflite", "vww_96_int8.tflite",
          "pretrainedResnet_quant.tflite"]


def test_files_are_the_ones_sources_md_describes():
    table = (HERE / "SOURCES.md").read_text()
    for name in MODELS:
        row = next(line for line in table.splitlines() if line.startswith(f"| `{name}`"))
        size, digest = re.search(r"\| (\d+) \| `([0-9a-f]{64})` \|", row).groups()
        data = (HERE / name).read_bytes()
        assert len(data) == int(size) and hashlib.sha256(data).hexdigest() == digest
        assert len(data) < 1 << 20
    assert sorted(p.name for p in HERE.glob("*.tflite")) == sorted(MODELS)


@pytest.mark.parametrize("name", MODELS)
def test_native_engine_is_bit_exact_with_tflite_micro(name):
    from edgert.engine import load_model
    path = HERE / name
    model = load_model(str(path), backend="native")      # raises when an operator is missing
    micro = MicroOracle(str(path))
    X = edge_inputs(micro.inputs[0], 5, seed=11)         # 7 edge rows + 5 random
    assert X.dtype == np.int8 and X.shape[1:] == model.inputs[0].item_shape
    ours = model.invoke_batch(X)
    theirs = micro.invoke_batch(X)[0]
    assert ours.dtype == theirs.dtype == np.int8
    np.testing.assert_array_equal(ours, theirs)
    # one input at a time (the per-window call) gives the same bytes
    np.testing.assert_array_equal(model.invoke(X[3]).reshape(-1), theirs[3].reshape(-1))
