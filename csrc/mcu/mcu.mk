# mcu.mk - generic bare-metal build of the edgert C core for QEMU's mps2-an386 (Cortex-M4 with
# single-precision FPU), included by a program's Makefile (export.mk, the build of an impulse
# written by `edgert export-c`, is one).
#
# The including Makefile sets, before `include`:
#   PROGRAMS          names of the images to build ($(BUILD)/<name>.elf)
#   <name>_SRCS       the program's own C sources (the core, startup.c and board.c are added)
#   <name>_STDIO      1: link newlib's rdimon (stdio over semihosting: printf, fopen, fread);
#                     0: no C library I/O at all (nosys stubs), for size measurements
#   <name>_DEPS       (optional) files the program's objects depend on (generated headers)
#   <name>_LDFLAGS    (optional) extra link flags
#   MCU_CORE_DEPS     (optional) files every object depends on (a generated configuration
#                     header named by EXTRA_CFLAGS' -DEDGERT_CONFIG_FILE, see edgert_config.h)
# and may set CORE_DIR (the edgert core's sources; default: this file's parent directory),
# BUILD (default build), EXTRA_CFLAGS, and EDGERT_VERSION.
#
# What it provides:
#   $(BUILD)/<name>.elf, .map, .lst     the image, the linker map, the disassembly
#   mcu-run-<name> ARGS="..."           run under QEMU (mps2-an386, semihosting, -icount)
#   mcu-size-<name>                     arm-none-eabi-size -A of the image
#   $(call qemu_run,ELF,ARGS)           the emulator command line for an image
#
# The core is compiled exactly as `make -C csrc m4` checks it: C99, -Os, hard float,
# -Wall -Wextra -Wpedantic -Wdouble-promotion -Werror, and -DEDGERT_DSP_FLOAT32 (the DSP in
# single precision, see csrc/dsp_real.h).

MCU_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
CORE_DIR ?= $(MCU_DIR)/..
BUILD ?= build
CROSS ?= arm-none-eabi-
MCU_CC := $(CROSS)gcc
MCU_SIZE := $(CROSS)size
MCU_OBJDUMP := $(CROSS)objdump
QEMU ?= qemu-system-arm
EDGERT_VERSION ?= $(shell sed -n 's/__version__ = "\(.*\)"/\1/p' $(CORE_DIR)/../edgert/_version.py 2>/dev/null || echo unknown)

MCU_ARCH := -mcpu=cortex-m4 -mthumb -mfpu=fpv4-sp-d16 -mfloat-abi=hard
MCU_CFLAGS := -std=c99 -Os -g $(MCU_ARCH) -ffunction-sections -fdata-sections \
  -Wall -Wextra -Wpedantic -Wdouble-promotion -Werror -DEDGERT_DSP_FLOAT32 \
  -DEDGERT_VERSION_STRING=\"$(EDGERT_VERSION)\" -I$(CORE_DIR) -I$(MCU_DIR) $(EXTRA_CFLAGS)
MCU_LDFLAGS := $(MCU_ARCH) -nostartfiles -T$(MCU_DIR)/mps2_an386.ld -Wl,--gc-sections
MCU_LIBS_STDIO := --specs=rdimon.specs -lm
MCU_LIBS_BARE := --specs=nano.specs --specs=nosys.specs -lm

MCU_CORE_SRCS := $(sort $(wildcard $(CORE_DIR)/*.c))
MCU_BOARD_SRCS := $(MCU_DIR)/startup.c $(MCU_DIR)/board.c

# -icount shift=0: one guest instruction per nanosecond of virtual time (board.h's counter);
# no display, no serial, no monitor: semihosting is the only I/O (target=native: files and
# the console are the host's). $(call qemu_run,ELF,ARGS): the command line, ARGS (words,
# no spaces inside) becoming the program's argv[1..].
comma := ,
empty :=
space := $(empty) $(empty)
QEMU_FLAGS := -M mps2-an386 -display none -monitor none -serial none -icount shift=0
qemu_run = $(QEMU) $(QEMU_FLAGS) -semihosting-config \
  enable=on,target=native,arg=$(notdir $(1))$(subst $(space),,$(foreach a,$(2),$(comma)arg=$(a))) \
  -kernel $(1)

# object path of a source: $(BUILD)/obj/<core|board|app>/<file>.o
mcu_obj = $(BUILD)/obj/$(2)/$(notdir $(1:.c=.o))

define MCU_COMPILE
$(call mcu_obj,$(1),$(2)): $(1) $(wildcard $(CORE_DIR)/*.h) $(wildcard $(MCU_DIR)/*.h) $(3)
	@mkdir -p $$(dir $$@)
	$$(MCU_CC) $$(MCU_CFLAGS) -c $$< -o $$@
endef

$(foreach s,$(MCU_CORE_SRCS),$(eval $(call MCU_COMPILE,$(s),core,$(MCU_CORE_DEPS))))
$(foreach s,$(MCU_BOARD_SRCS),$(eval $(call MCU_COMPILE,$(s),board,$(MCU_CORE_DEPS))))

define MCU_PROGRAM
$(1)_OBJS := $(foreach s,$(MCU_CORE_SRCS),$(call mcu_obj,$(s),core)) \
  $(foreach s,$(MCU_BOARD_SRCS),$(call mcu_obj,$(s),board)) \
  $(foreach s,$($(1)_SRCS),$(call mcu_obj,$(s),$(1)))
$(foreach s,$($(1)_SRCS),$(eval $(call MCU_COMPILE,$(s),$(1),$($(1)_DEPS))))

$(BUILD)/$(1).elf: $$($(1)_OBJS) $(MCU_DIR)/mps2_an386.ld
	$$(MCU_CC) $$(MCU_LDFLAGS) $$($(1)_LDFLAGS) -Wl,-Map=$(BUILD)/$(1).map -o $$@ $$($(1)_OBJS) \
	  $$(if $$(filter 1,$$($(1)_STDIO)),$$(MCU_LIBS_STDIO),$$(MCU_LIBS_BARE))
	$$(MCU_OBJDUMP) -d $$@ > $(BUILD)/$(1).lst

.PHONY: mcu-run-$(1) mcu-size-$(1)
mcu-run-$(1): $(BUILD)/$(1).elf
	$$(call qemu_run,$$<,$$(ARGS))

mcu-size-$(1): $(BUILD)/$(1).elf
	$$(MCU_SIZE) -A $$<
endef

$(foreach p,$(PROGRAMS),$(eval $(call MCU_PROGRAM,$(p))))
