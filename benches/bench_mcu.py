#!/usr/bin/env python3
"""The example impulse on an emulated Cortex-M4F: size, cost and float32 drift.

Exports the example impulse with ``edgert export-c`` (tests/data/motion-demo; the export's
harness: arm-none-eabi-gcc -Os, hard float, float32 DSP, the core configured for the impulse)
and runs it with the export's Makefile under ``qemu-system-arm -M mps2-an386 -icount
shift=0`` on Edge Impulse's 30 SDK reference windows. Writes benches/results/mcu.md with:

- flash and RAM of the export's size probe (``make size-report``: the impulse's entry point
  alone, no C library I/O): flash = .text + .rodata + .data initialisers, by component from
  the linker map; RAM = .data + .bss (the scratch, network arena inside) + the stack
  high-water the probe measures (painted stack), the raw window buffer apart;
- instructions per window, per stage (``make profile``): with -icount shift=0 QEMU advances
  virtual time by exactly 1 ns per guest instruction, and the entry point's timing hook reads
  the 25 MHz APB timer at each stage boundary (40 instructions per tick); cross-checked once
  by counting the instructions of every translated block QEMU executes inside the entry point
  (-d in_asm,exec,nochain);
- software double-precision calls per window (linker --wrap counters) and stack depth;
- the float32 drift against the float64 host build, the numpy float64 reference block and
  Edge Impulse's float32 SDK (the table docs/mcu.md quotes);
- Edge Impulse's published figures for a comparable impulse, labelled as published, not
  measured here.

    python benches/bench_mcu.py
"""
from __future__ import annotations

import collections
import datetime
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from edgert import Impulse  # noqa: E402
from edgert.mcu import export_c  # noqa: E402
from tests.reference import spectral_ref  # noqa: E402

BUNDLE = ROOT / "tests" / "data" / "motion-demo"
RESULTS = ROOT / "benches" / "results" / "mcu.md"
# Edge Impulse's published estimate for a comparable impulse (spectral analysis + 33-20-10-4
# dense network + K-means) on a Cortex-M4F at 80 MHz (issue 14): not measured here
EI_RAM, EI_ROM, EI_MS, EI_MHZ = 6.4 * 1024, 42.5 * 1024, 17.0, 80.0


def make(export: Path, *args: str, timeout: float = 600) -> str:
    res = subprocess.run(["make", "-s", "-C", str(export), *args],
                         capture_output=True, text=True, timeout=timeout)
    if res.returncode != 0:
        raise SystemExit(f"make {' '.join(args)} failed:\n{res.stdout}\n{res.stderr}")
    return res.stdout


def tool_version(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True).stdout.splitlines()[0]
    except (OSError, IndexError):
        return "unknown"


# ------------------------------------------------------------------------------ sizes ----
def map_sections(path: Path) -> list[tuple[str, str, int, str]]:
    """(output section, input section, size, file) of every input section in a GNU ld map."""
    out, current, pending = [], None, None
    text = path.read_text()
    body = text[text.index("Linker script and memory map"):]
    for line in body.splitlines():
        m = re.match(r"^(\.[\w.]+)\s+0x[0-9a-f]+\s+0x[0-9a-f]+", line)
        if m:
            current, pending = m.group(1), None
            continue
        m = re.match(r"^ (\.\S+|COMMON)\s+0x[0-9a-f]+\s+0x([0-9a-f]+)\s+(\S.*)$", line)
        if m:
            out.append((current, m.group(1), int(m.group(2), 16), m.group(3)))
            pending = None
            continue
        m = re.match(r"^ (\.\S+|COMMON)\s*$", line)
        if m:
            pending = m.group(1)
            continue
        m = re.match(r"^\s+0x[0-9a-f]+\s+0x([0-9a-f]+)\s+(\S.*)$", line)
        if m and pending:
            out.append((current, pending, int(m.group(1), 16), m.group(2)))
            pending = None
    return out


def component(section: str, path: str, name: str) -> str:
    base = os.path.basename(path)
    member = re.search(r"\(([^)]+)\)$", path)
    if "/obj/core/" in path:
        if re.match(r"(spectral|fft|filter|wavelet|flatten)", base):
            return "core: DSP (spectral analysis, FFT)"
        if re.match(r"(engine|kernel_)", base):
            return "core: network engine and kernels"
        if base.startswith("impulse"):
            return "core: impulse plan runtime (impulse.c: checks, scratch layout, stages)"
        return "core: K-means, int8 quantization, status"
    if base == f"{name}.o":
        if "consts" in section:
            return "impulse data: network weights and biases"
        if section.startswith(".text"):
            return f"entry point ({name}_classify)"
        return "impulse data: plan tables, DSP/K-means parameters, labels"
    if "/obj/board/" in path:
        return "startup, vector table, semihosting exit"
    if "/obj/" in path:
        return "size probe main"
    if "libgcc" in path and member and "df" in member.group(1):
        return "libgcc: software double precision"
    if "libgcc" in path:
        return "libgcc: other (64-bit division)"
    if "libm" in path:
        return "libm (float: log10f, expf, roundf, sqrtf)"
    return "libc (memcpy, memset, errno)"


def size_report(export: Path, name: str) -> dict:
    size = json.loads(make(export, "size-report").strip().splitlines()[-1])
    flash = collections.Counter()
    ram = collections.Counter()
    for out, sec, n, path in map_sections(export / "build" / "size.map"):
        if out in (".text", ".rodata", ".ARM.exidx", ".ARM.extab"):
            flash[component(sec, path, name)] += n
        elif out == ".data":
            flash["initial values of .data"] += n
            ram[".data: " + component(sec, path, name)] += n
        elif out == ".bss":
            if sec.endswith(".window"):
                continue  # the raw window buffer, reported apart
            label = {".bss.scratch": ".bss: the impulse's scratch (DSP buffers, features, "
                                     "network arena and I/O)"}.get(
                sec, ".bss: " + component(sec, path, name))
            ram[label] += n
    ram["stack high-water (painted, measured in QEMU)"] = size["stack_peak"]
    return {"size": size, "flash": flash, "ram": ram}


def double_callers(listing: Path) -> dict[str, int]:
    """Functions of an image (its objdump -d listing) that call libgcc's software double
    precision (__aeabi_d*, __*df*, int/float to double conversions), with the call count."""
    calls: collections.Counter = collections.Counter()
    function = ""
    helper = re.compile(r"<(__aeabi_[dfil]2d|__aeabi_ui2d|__aeabi_d\w*|__\w*df\w*)>$")
    for line in listing.read_text().splitlines():
        m = re.match(r"^[0-9a-f]+ <([^>]+)>:$", line)
        if m:
            function = m.group(1)
            continue
        if re.search(r"\tbl?(\.w)?\t", line) and helper.search(line):
            if not re.match(r"(__aeabi_|__\w*df)", function):   # not the library's own
                calls[function] += 1
    return dict(calls)


# ------------------------------------------------------------------ instruction trace ----
def trace_count(export: Path, entry: str, window_file: Path, log: Path) -> int:
    """Instructions executed inside the entry point (first window), counted from QEMU's log of
    every executed translation block (-d exec,nochain) and each block's length (in_asm)."""
    qemu = f"qemu-system-arm -d in_asm,exec,nochain -D {log}"
    make(export, "run", f"INPUT={window_file}", f"QEMU={qemu}")
    sizes, pending, inside, total = {}, None, False, 0
    with open(log, errors="replace") as f:
        for line in f:
            if line.startswith("IN:"):
                pending = 0
                continue
            if pending is not None and re.match(r"0x[0-9a-f]+:\s", line):
                pending += 1
                continue
            m = re.match(r"Trace \d+: (0x[0-9a-f]+) \[[^\]]*\] (\S*)", line)
            if not m:
                continue
            block, symbol = m.groups()
            if block not in sizes:
                sizes[block] = pending or 0
            pending = None
            if symbol == entry and not inside and total == 0:
                inside = True
            elif inside and symbol == "main":
                break
            if inside:
                total += sizes[block]
    return total


# ----------------------------------------------------------------------------- drift ----
def drift_rows(rows: list[dict], sdk: list[dict]) -> list[tuple]:
    imp = Impulse.load(BUNDLE)
    block = imp.dsp_blocks[0].block
    raw = np.asarray([w["raw"] for w in sdk], dtype=np.float32)
    f32 = np.asarray([r["features"] for r in rows], dtype=np.float64)
    f64 = np.stack([block.features(r) for r in raw]).astype(np.float64)
    ref = np.stack([spectral_ref.spectral_features(r, 3, imp.frequency, block.params,
                                                    block.version, "training") for r in raw])
    fsdk = np.asarray([w["features"] for w in sdk], dtype=np.float64)
    labels = imp.feature_labels
    groups = collections.OrderedDict([
        ("RMS", [i for i, x in enumerate(labels) if x.endswith(" RMS")]),
        ("skewness", [i for i, x in enumerate(labels) if x.endswith("Skewness")]),
        ("kurtosis", [i for i, x in enumerate(labels) if x.endswith("Kurtosis")]),
        ("log spectral power", [i for i, x in enumerate(labels) if "Spectral Power" in x]),
        ("all 33 features", list(range(len(labels)))),
    ])
    pairs = [("float32 device vs float64 host build", f32, f64),
             ("float32 device vs the reference block (numpy)", f32, ref),
             ("float64 host build vs the reference block (numpy)", f64, ref),
             ("float32 device vs Edge Impulse SDK (float32)", f32, fsdk),
             ("float64 host build vs Edge Impulse SDK (float32)", f64, fsdk)]
    out = []
    for name, a, b in pairs:
        cells = []
        for cols in groups.values():
            d = np.abs(a[:, cols] - b[:, cols])
            rel = d / np.maximum(1.0, np.abs(b[:, cols]))
            cells.append(f"{rel.max():.1e}")
        same = float((a.astype(np.float32) == b.astype(np.float32)).mean())
        out.append((name, cells, same))
    keras, anomaly = imp.learn_blocks
    a32 = np.asarray([r["anomaly"] for r in rows], dtype=np.float32)
    a64 = anomaly.score(f64.astype(np.float32))
    asdk = np.asarray([w["anomaly"] for w in sdk], dtype=np.float32)
    nn64 = keras.invoke(keras.quantize_input(f64.astype(np.float32), "int8"), "int8")
    # the int8 output behind the dequantized scores: (q - zero point) x scale is exact
    tout = keras.model("int8").outputs[0]
    scores = np.asarray([r["outputs"][:4] for r in rows], dtype=np.float64)
    nn32 = np.rint(scores / float(tout.scale)).astype(np.int64) + int(tout.zero_point)
    extra = {
        "groups": list(groups),
        "anomaly_vs_host": float(np.abs(a32 - a64).max()),
        "anomaly_vs_sdk": float(np.abs(a32 - asdk).max()),
        "anomaly_host_vs_sdk": float(np.abs(a64 - asdk).max()),
        "nn_same_host": int((nn32 == nn64).all(axis=1).sum()),
        "nn_same_sdk": int((nn32 == np.asarray([w["nn_output_int8"] for w in sdk]))
                           .all(axis=1).sum()),
    }
    return out, extra


def main() -> int:
    for tool in ("arm-none-eabi-gcc", "qemu-system-arm", "make", "cc"):
        if shutil.which(tool) is None:
            raise SystemExit(f"bench_mcu: {tool} is not installed (see .ci/run)")
    sdk = json.loads((BUNDLE / "ei-sdk-reference.json").read_text())["windows"]
    with tempfile.TemporaryDirectory() as tmp:
        export = Path(tmp) / "export"
        report = export_c(BUNDLE, export)
        name = report.name
        windows = Path(tmp) / "windows.f32"
        one = Path(tmp) / "one.f32"
        raw = np.asarray([w["raw"] for w in sdk], dtype="<f4")
        raw.tofile(windows)
        raw[:1].tofile(one)
        make(export, "all")
        out = make(export, "profile", f"INPUT={windows}", timeout=300)
        rows = [json.loads(x) for x in out.splitlines() if x.startswith('{"classification"')]
        summary = json.loads([x for x in out.splitlines() if x.startswith('{"summary"')][0])
        summary = summary["summary"]
        sizes = size_report(export, name)
        first = make(export, "profile", f"INPUT={one}")
        counter_first = json.loads(first.splitlines()[0])["instructions"]["total"]
        traced = trace_count(export, f"{name}_classify", one, Path(tmp) / "trace.log")
        callers = double_callers(export / "build" / "size.lst")
        harness = subprocess.run(["arm-none-eabi-size", "-A", str(export / "build" /
                                                                  "harness.elf")],
                                 capture_output=True, text=True).stdout
    drift, extra = drift_rows(rows, sdk)

    stages = {k: [r["instructions"][k] for r in rows]
              for k in ("dsp", "classifier", "anomaly", "plan", "total")}
    med = {k: statistics.median(v) for k, v in stages.items()}
    soft = sorted({r["soft_double_calls"] for r in rows})
    ei_cycles = EI_MS * 1e-3 * EI_MHZ * 1e6
    size = sizes["size"]
    hsec = {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\.\w+)\s+(\d+)", harness, re.M)}
    now = datetime.datetime.now(datetime.timezone.utc)
    lines = [
        "## Cortex-M4F (emulated): size, instructions per window, float32 drift "
        "(`benches/bench_mcu.py`)",
        "",
        f"{now:%Y-%m-%d %H:%M UTC}, {platform.machine()} host; "
        f"{tool_version(['arm-none-eabi-gcc', '--version'])}; "
        f"{tool_version(['qemu-system-arm', '--version'])}. "
        "The example impulse (spectral analysis v2, FFT 16, 3 axes x 125 samples -> 33 "
        "features; int8 dense 33-21-14-4; K-means 32 clusters on 3 features) exported by "
        "`edgert export-c` and built by the export's Makefile (-Os, -mcpu=cortex-m4 "
        "-mfpu=fpv4-sp-d16 -mfloat-abi=hard, float32 DSP, only the parts the impulse uses: "
        "`impulse_config.h`), run under `qemu-system-arm -M mps2-an386 -icount shift=0` on "
        "Edge Impulse's 30 SDK reference windows. Emulated, not measured on a board.",
        "",
        "### Size of the impulse (`make size-report`: the entry point alone, no C library I/O)",
        "",
        f"Flash **{size['flash']} bytes** ({size['flash'] / 1024:.1f} KB), RAM **{size['ram']} "
        f"bytes** ({size['ram'] / 1024:.1f} KB) plus the raw window buffer "
        f"({size['window_buffer']} bytes, 125 x 3 float32). `make size`: "
        f"`{json.dumps({'flash': size['flash'], 'ram': size['ram']})}`; `make size-report`: "
        f"`{json.dumps(size)}`.",
        "",
        "| flash: component | bytes |",
        "|---|---:|",
    ]
    for k, v in sizes["flash"].most_common():
        lines.append(f"| {k} | {v} |")
    lines += ["", "| RAM: component | bytes |", "|---|---:|"]
    for k, v in sizes["ram"].most_common():
        lines.append(f"| {k} | {v} |")
    lines += [
        "",
        f"The scratch ({report.scratch_bytes} bytes: `{name.upper()}_SCRATCH_BYTES`, the "
        f"float32 build's own query at export; the host build's would be "
        f"{report.scratch_host_bytes}) holds the DSP buffers, the features, the network's "
        f"arena ({report.arena_bytes} bytes) and its int8 input and output; the network's "
        f"constants are {report.network_constants_bytes} bytes of flash. The entry point uses "
        f"at most {summary['entry_point_stack_bytes']} bytes of stack below its caller "
        "(harness, all 30 windows); the probe's whole-program high-water above includes "
        "main's frame (the 272-byte result struct) and the start-up code. Not counted: the "
        f"start-up code's command-line buffer ({size['harness_buffers']} bytes, section "
        "`.board`; a firmware has its own start-up). The software double-precision library "
        "(libgcc) is there for the spectral block's per-call parameter checks and FFT bin "
        "mask, which follow the float64 reference (the plan re-validates its tables on every "
        "call, so that a corrupted plan is refused rather than run). Functions of the image "
        "that call it (static, from the disassembly): "
        + ", ".join(f"`{f}` ({n} call site{'s' if n != 1 else ''})"
                    for f, n in sorted(callers.items())) + ".",
        "",
        f"The harness image itself (newlib stdio over semihosting, printf of floats, counters) "
        f"is larger: .text {hsec.get('.text', 0)}, .rodata {hsec.get('.rodata', 0)}, .data "
        f"{hsec.get('.data', 0)}, .bss {hsec.get('.bss', 0)} bytes.",
        "",
        "### Instructions per window",
        "",
        "| stage | median | min | max |",
        "|---|---:|---:|---:|",
    ]
    for k, label in (("dsp", "DSP (spectral analysis, 3 axes)"),
                     ("classifier", "int8 quantize + network + dequantize"),
                     ("anomaly", "K-means anomaly"),
                     ("plan", "the plan's run (stages + plumbing)"),
                     ("total", "**entry point** (plan + its per-call checks)")):
        v = stages[k]
        lines.append(f"| {label} | {med[k]:.0f} | {min(v)} | {max(v)} |")
    lines += [
        "",
        "Measured with the APB timer under -icount shift=0 (1 instruction = 1 ns of virtual "
        "time, 40 instructions per 25 MHz tick), read by the entry point's own timing hook "
        "(`edgert_impulse_timing`) at each stage boundary and by the harness around the call. "
        f"Cross-check on the first window: the counter says {counter_first}, counting the "
        "instructions of every translation block QEMU executed inside the entry point gives "
        f"{traced}. Software double-precision helper calls per window: {soft} (per call, "
        "not per sample: fewer than the 125 samples of an axis; the per-call checks of the "
        "spectral block, made twice per window: the plan's validation of its tables, and the "
        "block's own).",
        "",
        "### Against Edge Impulse's published figures (published, NOT measured here)",
        "",
        "Edge Impulse publishes, for a comparable impulse (spectral analysis + 33-20-10-4 "
        "network + K-means) on a Cortex-M4F at 80 MHz, an estimate of 6.4 KB RAM, 42.5 KB ROM "
        f"and 17 ms per window (~{ei_cycles / 1e6:.2f} M cycles).",
        "",
        "| | edgert (this run) | Edge Impulse (published) | ratio |",
        "|---|---:|---:|---:|",
        f"| flash / ROM | {size['flash'] / 1024:.1f} KB | {EI_ROM / 1024:.1f} KB | "
        f"{size['flash'] / EI_ROM:.2f} |",
        f"| RAM (window buffer apart) | {size['ram'] / 1024:.1f} KB | {EI_RAM / 1024:.1f} KB | "
        f"{size['ram'] / EI_RAM:.2f} |",
        f"| work per window | {med['total'] / 1e3:.0f} k instructions | "
        f"{ei_cycles / 1e6:.2f} M cycles | {med['total'] / ei_cycles:.3f} |",
        "",
        "Instructions are not cycles: on a Cortex-M4 loads, FPU divides and square roots "
        "(14 cycles), taken branches and flash wait states (4 at 80 MHz on the STM32L475, "
        "mostly hidden by its ART accelerator) make cycles per instruction larger than 1; at "
        "1.5-2 cycles per instruction the window would take "
        f"{1.5 * med['total'] / EI_MHZ / 1e3:.1f}-{2 * med['total'] / EI_MHZ / 1e3:.1f} ms at "
        "80 MHz. Only a board measurement settles it. Edge Impulse's figures are estimates "
        "for their own SDK and a different network width (20-10 vs 21-14), so the ratios are "
        "indicative.",
        "",
        "### Float32 drift on the 30 reference windows",
        "",
        "Largest |a - b| / max(1, |b|) per feature group:",
        "",
        "| comparison | " + " | ".join(extra["groups"]) + " | identical |",
        "|---|" + "---:|" * (len(extra["groups"]) + 1),
    ]
    for name, cells, same in drift:
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {100 * same:.0f}% |")
    lines += [
        "",
        f"Anomaly score: float32 device vs host {extra['anomaly_vs_host']:.1e}, vs SDK "
        f"{extra['anomaly_vs_sdk']:.1e} (host vs SDK {extra['anomaly_host_vs_sdk']:.1e}). "
        f"int8 network output identical to the host build on {extra['nn_same_host']}/30 and "
        f"to the SDK on {extra['nn_same_sdk']}/30 windows.",
        "",
    ]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
