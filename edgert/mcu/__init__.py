"""The microcontroller face: ``edgert export-c`` writes an impulse as plain C - the compiled
impulse plan as ``const`` data with one entry point, the C core it runs on, a configuration
that leaves out what the impulse does not use, and a bare-metal harness with a Makefile that
builds it for an emulated Cortex-M4F (QEMU ``mps2-an386``) and runs or sizes it.

    from edgert.mcu import export_c
    report = export_c("examples/motion-demo", "out/motion")   # ExportReport
"""
from .export import ExportReport, export_c
from .sources import c_sources_root

__all__ = ["ExportReport", "export_c", "c_sources_root"]
