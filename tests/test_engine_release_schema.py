"""release_schema: the daemon forgets the tflite schema package once its models are compiled.

Run in a child process: forgetting modules in the test process would leave other tests holding
a second copy of the ``tflite`` package.
"""
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_models_read_the_same_after_the_schema_is_released():
    code = textwrap.dedent(f"""
        import sys
        import numpy as np
        from edgert.engine.reader import release_schema
        from edgert.runtime.impulse import Impulse

        bundle = {str(ROOT / "examples" / "motion-demo")!r}
        x = np.random.default_rng(0).normal(size=(125, 3)).astype(np.float32)
        first = Impulse.load(bundle)
        before = first.classify(x).probabilities.tolist()
        release_schema()
        assert not any(m == "tflite" or m.startswith(("tflite.", "flatbuffers"))
                       for m in sys.modules), "schema modules still loaded"
        # the compiled impulse keeps working without them ...
        assert first.classify(x).probabilities.tolist() == before
        # ... and the next read imports them again and compiles the same model
        second = Impulse.load(bundle)
        assert "tflite" in sys.modules
        assert second.classify(x).probabilities.tolist() == before
        print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", code], cwd=str(ROOT), capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
