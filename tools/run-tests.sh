#!/usr/bin/env bash
# The project's whole test run (README's test command; .ci/run runs exactly this):
#   1. a virtualenv in .venv with edgert and its test extras installed from this checkout,
#   2. the pure-C tests of csrc/ under AddressSanitizer + UndefinedBehaviorSanitizer,
#      a -Wall -Wextra -Werror compile of every C source, a check that no object has
#      writable static data, and a Cortex-M4F compile when arm-none-eabi-gcc is installed,
#   3. the pytest suite against the installed package (it also exports the example impulse
#      with `edgert export-c`, builds it with the bare-metal harness of csrc/mcu/ and runs it
#      on an emulated Cortex-M4F when qemu-system-arm is installed),
#   4. an sdist and a wheel built with `python -m build`, installed in a fresh venv, where the
#      smoke tests run (catches files missing from the distributions; one exports an impulse
#      as C from the installed package's own C sources, edgert/_csrc).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=${EDGERT_TEST_VENV:-.venv}

log() { printf '\n== %s\n' "$*"; }

# a merge that left conflict markers behind must not pass as green (README/docs included)
if git rev-parse --is-inside-work-tree >/dev/null 2>&1 \
   && git grep -nE '^(<<<<<<<|>>>>>>>) ' -- . ':!tests/data' ; then
  echo "merge conflict markers above: resolve them" >&2
  exit 1
fi

log "virtualenv $VENV"
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
# shellcheck disable=SC1091
. "$VENV/bin/activate"
python -m pip install -q --upgrade pip
python -m pip install -q -e '.[test]' build

log "C core: warnings, no writable statics, Cortex-M4F compile, sanitizer tests"
make -s -C csrc warnings
make -s -C csrc nostatic
make -s -C csrc m4
make -s -C csrc test

log "pytest"
set +e
python -m pytest -q -p no:cacheprovider "$@"
rc=$?
set -e
[ $rc -eq 0 ] || exit $rc

if [ "${EDGERT_SKIP_DIST:-0}" != "1" ]; then
  log "sdist + wheel in a fresh venv"
  dist=$(mktemp -d)
  python -m build -q --outdir "$dist" . >/dev/null
  "$PY" -m venv "$dist/venv"
  "$dist/venv/bin/python" -m pip install -q "$dist"/edgert-*.whl pytest
  # importlib mode: tests/ is a package, so pytest's default mode would put this checkout
  # (with its in-place extension) first on sys.path and test it instead of the wheel
  (cd "$dist" && EDGERT_SMOKE_EXPECT_INSTALLED=1 "$dist/venv/bin/python" -m pytest -q \
      -p no:cacheprovider --import-mode=importlib "$OLDPWD/tests/test_smoke.py")
  rm -rf "$dist"
fi
