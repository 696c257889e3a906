# export.mk - the build of an impulse written by `edgert export-c` (included by the export's
# Makefile, which sets NAME and EDGERT_VERSION; paths are relative to the export's directory,
# so run it as `make -C DIR ...`):
#
#   make -C DIR run INPUT=FILE    build for QEMU's mps2-an386 (Cortex-M4 with FPU) and run the
#                                 impulse on FILE under the emulator with semihosting: raw
#                                 windows, float32 little-endian, axes interleaved, one window
#                                 after another; one JSON line per window,
#                                 {"classification": {label: score, ...}, "anomaly": x}
#                                 ("anomaly" only when the impulse has one). A relative FILE is
#                                 taken from the directory make was started in ($PWD).
#   make -C DIR size              {"flash": n, "ram": n} of the impulse alone (flash = text +
#                                 rodata + data; RAM = data + bss + stack high-water; the raw
#                                 window buffer counted apart)
#   make -C DIR size-report       the same with the parts: text, rodata, data, bss, stack_peak,
#                                 scratch, window_buffer, harness_buffers (the start-up code's
#                                 command-line buffer: not counted, a firmware has its own)
#   make -C DIR profile INPUT=FILE  per window also the features, every learn block's outputs,
#                                 the instructions per stage (-icount: one guest instruction per
#                                 ns), software double calls and stack; then a summary line
#   make -C DIR host              build/harness-host: the same harness built for this machine
#                                 (float32 DSP, no emulator): `build/harness-host FILE`
#   make -C DIR clean
#
# Build output goes to stderr: stdout carries the JSON lines only.
# Variables: TIMEOUT (seconds per emulator run, default 60), QEMU, CROSS, HOSTCC, BUILD.

CORE_DIR := edgert
IMPULSE_DIR := impulse
BUILD ?= build
TIMEOUT ?= 60
HOSTCC ?= cc

PROGRAMS := harness size
# every software double-precision helper goes through a counting wrapper (soft_double.c)
SOFT_DOUBLE_WRAPS := __aeabi_dadd __aeabi_dsub __aeabi_drsub __aeabi_dmul __aeabi_ddiv \
  __aeabi_drdiv __aeabi_dcmpeq __aeabi_dcmplt __aeabi_dcmple __aeabi_dcmpge __aeabi_dcmpgt \
  __aeabi_dcmpun __aeabi_f2d __aeabi_d2f __aeabi_i2d __aeabi_ui2d __aeabi_l2d __aeabi_ul2d \
  __aeabi_d2iz __aeabi_d2uiz __aeabi_d2lz __aeabi_d2ulz sin cos tan sqrt log log10 exp pow
IMPULSE_HEADERS := $(IMPULSE_DIR)/$(NAME).h $(IMPULSE_DIR)/impulse_glue.h
harness_SRCS := harness/harness_main.c harness/soft_double.c $(IMPULSE_DIR)/$(NAME).c
harness_STDIO := 1
harness_DEPS := $(IMPULSE_HEADERS)
harness_LDFLAGS := $(foreach s,$(SOFT_DOUBLE_WRAPS),-Wl,--wrap=$(s))
size_SRCS := harness/size_main.c $(IMPULSE_DIR)/$(NAME).c
size_STDIO := 0
size_DEPS := $(IMPULSE_HEADERS)
# the core is configured for the impulse: paths it never takes are left out (edgert_config.h)
CONFIG_FLAGS := -DEDGERT_CONFIG_FILE=\"impulse_config.h\"
EXTRA_CFLAGS := -I$(IMPULSE_DIR) $(CONFIG_FLAGS)
MCU_CORE_DEPS := $(IMPULSE_DIR)/impulse_config.h

MAKEFLAGS += --no-print-directory
.DEFAULT_GOAL := all
.PHONY: all run profile size size-report host clean

include harness/mcu.mk

all: $(BUILD)/harness.elf $(BUILD)/size.elf

# INPUT as the emulator must open it: absolute (relative ones from where make was started)
comma := ,
INPUT_PATH = $(if $(filter /%,$(INPUT)),$(INPUT),$(abspath $(or $(PWD),$(CURDIR))/$(INPUT)))
define check_input
	@test -n "$(INPUT)" || { echo "usage: make -C DIR $@ INPUT=FILE (raw windows: float32 little-endian, axes interleaved)" >&2; exit 2; }
	@test "$(words $(INPUT_PATH))" = 1 -a -z "$(findstring $(comma),$(INPUT_PATH))" || { echo "make $@: INPUT=$(INPUT): the path may not contain spaces or commas (the emulator's command line); copy the file elsewhere" >&2; exit 2; }
	@test -f "$(INPUT_PATH)" || { echo "make $@: INPUT=$(INPUT): no such file ($(INPUT_PATH))" >&2; exit 1; }
endef

run:
	$(check_input)
	@$(MAKE) --no-print-directory -s $(BUILD)/harness.elf >&2
	@timeout $(TIMEOUT) $(call qemu_run,$(BUILD)/harness.elf,$(INPUT_PATH))

profile:
	$(check_input)
	@$(MAKE) --no-print-directory -s $(BUILD)/harness.elf >&2
	@timeout $(TIMEOUT) $(call qemu_run,$(BUILD)/harness.elf,$(INPUT_PATH) detail)

# text/rodata/data/bss from the section headers, the stack high-water from the probe's run,
# the window buffer and the scratch from the symbol table
define size_json
	stack=$$(timeout $(TIMEOUT) $(call qemu_run,$(BUILD)/size.elf) 2>&1 | sed -n 's/.*"stack_peak_bytes": \([0-9]*\).*/\1/p'); \
	test -n "$$stack" || { echo "make size: the probe did not report its stack" >&2; exit 1; }; \
	win=$$($(CROSS)nm -S -t d $(BUILD)/size.elf | awk '$$4 == "window" {print $$2 + 0}'); \
	scr=$$($(CROSS)nm -S -t d $(BUILD)/size.elf | awk '$$4 == "scratch" {print $$2 + 0}'); \
	$(MCU_SIZE) -A $(BUILD)/size.elf | awk -v stack=$$stack -v win=$$win -v scr=$$scr -v full=$(1) ' \
	  $$1 == ".text" || $$1 ~ /^\.ARM\.ex/ {text += $$2} $$1 == ".rodata" {rodata = $$2} \
	  $$1 == ".data" {data = $$2} $$1 == ".bss" {bss = $$2} $$1 == ".board" {board = $$2} \
	  END {flash = text + rodata + data; ram = data + bss - win + stack; \
	       if (full) printf "{\"flash\": %d, \"ram\": %d, \"text\": %d, \"rodata\": %d, \"data\": %d, \"bss\": %d, \"stack_peak\": %d, \"scratch\": %d, \"window_buffer\": %d, \"harness_buffers\": %d}\n", \
	         flash, ram, text, rodata, data, bss - win, stack, scr, win, board; \
	       else printf "{\"flash\": %d, \"ram\": %d}\n", flash, ram}'
endef

size:
	@$(MAKE) --no-print-directory -s $(BUILD)/size.elf >&2
	@$(call size_json,0)

size-report:
	@$(MAKE) --no-print-directory -s $(BUILD)/size.elf >&2
	@$(call size_json,1)

host: $(BUILD)/harness-host
$(BUILD)/harness-host: harness/harness_main.c harness/board_host.c $(IMPULSE_DIR)/$(NAME).c $(IMPULSE_HEADERS) $(MCU_CORE_SRCS) $(wildcard $(CORE_DIR)/*.h)
	@mkdir -p $(BUILD)
	$(HOSTCC) -std=c99 -O1 -Wall -Wextra -DEDGERT_DSP_FLOAT32 -DEDGERT_VERSION_STRING=\"$(EDGERT_VERSION)\" \
	  $(CONFIG_FLAGS) -I$(CORE_DIR) -Iharness -I$(IMPULSE_DIR) -o $@ harness/harness_main.c \
	  harness/board_host.c $(IMPULSE_DIR)/$(NAME).c $(MCU_CORE_SRCS) -lm

clean:
	rm -rf $(BUILD)
