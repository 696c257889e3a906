"""The README.md an export carries: for the firmware engineer who builds the impulse into a
firmware - how to call the entry point, what each buffer is, the timing hooks, how to compile
the sources, and how to try the export on the emulator first."""
from __future__ import annotations

from typing import Any


def readme_text(report: Any, imp: Any, plan: Any, source: str) -> str:
    n, N = report.name, report.name.upper()
    labels = ", ".join(f"`{lab}`" for lab in report.labels) or "(none: no classifier)"
    axes = ", ".join(imp.axes)
    left_out = [k for k, v in report.config.items() if not v]
    anomaly = ("`result.anomaly` is the anomaly score (above the threshold "
               f"{plan.anomaly_threshold:g} the prediction is `EDGERT_PREDICTION_ANOMALY`)"
               if report.has_anomaly else "this impulse has no anomaly block (`result.anomaly` "
               "stays 0)")
    return f"""# `{n}`: the impulse `{source}` as plain C

Written by `edgert export-c` (edgert {_version()}), model variant `{report.variant or 'none'}`.
This is the impulse plan edgert runs on the host - the DSP configuration, the network(s) as
ahead-of-time compiled engine plans (weights, quantization, operator list, arena offsets), the
anomaly clusters, thresholds and labels - as `const` data, with one entry point. The device runs
exactly what the host tested: the same C kernels, no interpreter, no flatbuffer parsing, no
malloc, no stdio, no mutable static state.

| file | what |
|---|---|
| `impulse/{n}.h` | the entry point `{n}_classify`, the sizes (`{N}_*`), `{n}_labels` |
| `impulse/{n}.c` | the impulse plan `{n}_impulse` as const data, and the entry point |
| `impulse/impulse_config.h` | the parts of the C core this impulse uses (the rest is compiled out) |
| `edgert/` | the edgert C core (C99); `edgert.h` is its API |
| `harness/` | bare-metal harness for QEMU's `mps2-an386` (startup, linker script, semihosting) |
| `Makefile` | `make run INPUT=FILE`, `make size`, `make profile INPUT=FILE`, `make host` |
| `impulse/export.json` | what was exported, for machines |

## The entry point

```c
#include "{n}.h"

static uint32_t scratch[{N}_SCRATCH_WORDS];   /* the impulse's working memory */
static float window[{N}_WINDOW_VALUES];       /* one raw window, filled by your sensor code */

void on_window_ready(void)
{{
    edgert_impulse_result result;
    int status = {n}_classify(window, &result, NULL, scratch, sizeof scratch);
    if (status != EDGERT_OK) {{
        /* edgert_strerror(status) says why: EDGERT_ERR_NONFINITE for NaN/inf samples, ... */
        return;
    }}
    /* result.scores[i] is the probability of {n}_labels[i], i < {N}_N_LABELS */
    /* result.prediction: a label index, EDGERT_PREDICTION_UNCERTAIN (top score below
     * {plan.min_score:g}) or EDGERT_PREDICTION_ANOMALY */
}}
```

`{n}_classify(window, result, timing, scratch, scratch_bytes)` is `edgert_impulse_run_window`
on `{n}_impulse`. It returns 0 (`EDGERT_OK`) or a negative status (`edgert_strerror`); it never
crashes on bad samples and never writes outside the buffers it is given.

### The buffers

- **window** (`const float *`, `{N}_WINDOW_VALUES` = {plan.window_values} floats, read only):
  {plan.window_samples} samples at {imp.frequency:g} Hz of the axes {axes}, interleaved
  (sample 0's axes, then sample 1's, ...), in the units the impulse was trained on. Yours to
  fill (a ring buffer's snapshot, a DMA buffer); it is not counted in the RAM figure of `make
  size`.
- **scratch** (`{N}_SCRATCH_BYTES` = {report.scratch_bytes} bytes; any alignment, the core
  aligns inside it): everything the impulse needs while it runs - the DSP work buffers, the
  features, the network arena ({report.arena_bytes} bytes) and its input/output. Nothing in it
  survives between calls, so one buffer can serve every call of one thread; give concurrent
  callers (an RTOS task and an interrupt) one each. The figure is {report.scratch_measured_by}.
  `edgert_impulse_scratch_size(&{n}_impulse, 1, &bytes)` gives it at run time; a call with too
  little returns `EDGERT_ERR_SCRATCH`.
- **result** (`edgert_impulse_result`, {_result_bytes()} bytes, yours): `scores[]` (label order
  of `{n}_labels`: {labels}), `n_labels`, `top` (index of the highest score), `prediction`, and
  `anomaly`: {anomaly}.

The impulse's constants (the network weights: {report.network_constants_bytes} bytes, the DSP
and anomaly tables) are `const` and stay in flash.

### Timing hooks

Pass an `edgert_impulse_timing` to see where the time goes, with your clock:

```c
static uint32_t cycles(void *context) {{ (void)context; return DWT->CYCCNT; }}

edgert_impulse_timing timing = {{ .clock = cycles, .context = NULL }};
{n}_classify(window, &result, &timing, scratch, sizeof scratch);
/* timing.ticks[EDGERT_IMPULSE_STAGE_DSP], [EDGERT_IMPULSE_STAGE_CLASSIFIER],
 * [EDGERT_IMPULSE_STAGE_ANOMALY] and timing.total, in your clock's ticks */
```

The clock is any free-running 32-bit counter (cycles, microseconds); differences are taken
modulo 2^32, so a wrapping counter is fine. `timing` may be NULL.

## Building it into your firmware

Compile `edgert/*.c` and `impulse/{n}.c` with your toolchain:

    -std=c99 -Os -DEDGERT_DSP_FLOAT32 -DEDGERT_CONFIG_FILE=\\"impulse_config.h\\"
    -DEDGERT_VERSION_STRING=\\"{_version()}\\" -Iedgert -Iimpulse
    (Cortex-M4F: -mcpu=cortex-m4 -mthumb -mfpu=fpv4-sp-d16 -mfloat-abi=hard)

and link with the maths library (`-lm`) and `-Wl,--gc-sections` (with `-ffunction-sections
-fdata-sections`), which keeps only what the impulse calls. `-DEDGERT_DSP_FLOAT32` runs the DSP
in single precision (what the Cortex-M4F's FPU does in hardware; drop it to run it in double,
as the host does - then size the scratch with `edgert_impulse_scratch_size`, it is larger).
`impulse_config.h` leaves out {', '.join(left_out) or 'nothing'}: a part left out is refused with
`EDGERT_ERR_UNSUPPORTED`, never run wrongly. The core needs no operating system: no malloc, no
stdio, no static mutable state (it is reentrant).

## Trying it on an emulated Cortex-M4F first

Debian/Ubuntu packages: `gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm make`.

    make -C DIR run INPUT=windows.f32   # one JSON line per window:
                                        # {{"classification": {{label: score, ...}}, "anomaly": x}}
    make -C DIR size                    # {{"flash": n, "ram": n}} of the impulse alone
    make -C DIR size-report             # the same with text/rodata/data/bss/stack/scratch
    make -C DIR profile INPUT=windows.f32   # + features, outputs, instructions per stage
    make -C DIR host && DIR/build/harness-host windows.f32   # the same program natively

`windows.f32` holds raw windows as float32 little-endian values, axes interleaved, one window
({plan.window_values} values) after another, e.g. from Python:
`numpy.asarray(windows, "<f4").tofile("windows.f32")`. A relative `INPUT` is taken from the
directory you run make in. The build is for QEMU's `mps2-an386` (Cortex-M4 with FPU), with the
memory cut to the DISCO-L475VG-IOT01A's STM32L475 (1 MB flash, 128 KB RAM): an image that would
not fit that board does not link. `make size` counts flash as text + rodata + data and RAM as
data + bss + the stack high-water of a classification, the raw window buffer apart.
Instructions (`make profile`) come from `qemu-system-arm -icount`: a proxy for cycles, not a
measurement on hardware.
"""


def _version() -> str:
    from .._version import __version__
    return __version__


def _result_bytes() -> int:
    from .._ffi import ffi
    return int(ffi.sizeof("edgert_impulse_result"))
