"""A plan serialised as C99 source (edgert.engine.export) compiles warning-free with the C core
alone (no Python, no malloc, the plan in const tables) and computes exactly what the Python-
loaded native model computes - the path a microcontroller build takes."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from edgert.engine import load_model
from edgert.engine.export import export_c_source

ROOT = Path(__file__).resolve().parent.parent
CSRC = ROOT / "csrc"
MODELS = [ROOT / "tests" / "data" / "engine" / "motion-demo-nn-i8.tflite",
          ROOT / "tests" / "data" / "models" / "conv1d_ei_i8.tflite",
          ROOT / "tests" / "data" / "models" / "gmm_f32.tflite",
          ROOT / "tests" / "data" / "models" / "conv1d_ei_f32.tflite",
          ROOT / "tests" / "data" / "models" / "conv2d_pc_f32.tflite"]

MAIN = r"""
#include <stdio.h>
#include <stdint.h>
#include "edgert.h"
extern const edgert_plan m_plan;
extern const uint32_t m_consts[];
static uint32_t arena[(%(arena)du + 3u) / 4u + 1u];
int main(void)
{
    static unsigned char in[%(ib)d], out[%(ob)d];
    const void *ins[1] = {in};
    void *outs[1] = {out};
    while (fread(in, 1, sizeof in, stdin) == sizeof in) {
        int st = edgert_engine_invoke(&m_plan, m_consts, %(cb)du, arena, sizeof arena, ins, outs);
        if (st != 0) { fprintf(stderr, "status %%d\n", st); return 1; }
        fwrite(out, 1, sizeof out, stdout);
    }
    return 0;
}
"""


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler")
@pytest.mark.parametrize("path", [m for m in MODELS if m.exists()], ids=lambda p: p.stem)
def test_exported_plan_runs_in_plain_c(tmp_path, path):
    model = load_model(path, backend="native")
    (i,), (o,) = model.inputs, model.outputs
    src = export_c_source(path, name="m")
    (tmp_path / "m.c").write_text(src)
    consts_bytes = int(src.split("#define M_CONSTS_BYTES ")[1].split("u")[0])
    arena_bytes = int(src.split("#define M_ARENA_BYTES ")[1].split("u")[0])
    assert arena_bytes == model.arena_bytes
    ib, ob = int(np.prod(i.shape)) * i.dtype.itemsize, int(np.prod(o.shape)) * o.dtype.itemsize
    (tmp_path / "main.c").write_text(MAIN % {"arena": arena_bytes, "ib": ib, "ob": ob, "cb": consts_bytes})
    exe = tmp_path / "run"
    engine_sources = sorted(str(p) for p in CSRC.glob("*.c") if p.name.startswith(("engine", "kernel_", "status")))
    subprocess.run(["cc", "-std=c99", "-O1", "-Wall", "-Wextra", "-Wpedantic", "-Werror", f"-I{CSRC}",
                    '-DEDGERT_VERSION_STRING="test"', str(tmp_path / "m.c"), str(tmp_path / "main.c"),
                    *engine_sources, "-lm", "-o", str(exe)], check=True, capture_output=True, text=True)
    rng = np.random.default_rng(9)
    n = 200
    X = (rng.integers(-128, 128, (n,) + i.item_shape).astype(np.int8) if i.dtype == np.int8
         else rng.standard_normal((n,) + i.item_shape).astype(np.float32))
    res = subprocess.run([str(exe)], input=X.tobytes(), capture_output=True, check=True)
    got = np.frombuffer(res.stdout, dtype=o.dtype).reshape((n,) + o.item_shape)
    np.testing.assert_array_equal(got, model.invoke_batch(X))


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler")
def test_portable_kernels_without_simd(tmp_path):
    """The C unit tests (packed FC == plain FC on random layers, hand-built plans, validation)
    built with EDGERT_NO_SIMD: the code paths of a microcontroller or non-x86 host."""
    exe = tmp_path / "test_kernels"
    sources = sorted(str(p) for p in CSRC.glob("*.c") if p.name.startswith(("engine", "kernel_", "status")))
    subprocess.run(["cc", "-std=c99", "-O1", "-Wall", "-Wextra", "-Wpedantic", "-Werror", "-DEDGERT_NO_SIMD",
                    f"-I{CSRC}", '-DEDGERT_VERSION_STRING="test"', str(CSRC / "tests" / "test_kernels.c"),
                    *sources, "-lm", "-o", str(exe)], check=True, capture_output=True, text=True)
    res = subprocess.run([str(exe)], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    assert " 0 failed" in res.stdout
