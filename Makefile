# vmgen: `make demo` runs the generator end to end on the bundled fixtures,
# `make test` runs the whole test suite (lint, types, tests).

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
VMGEN  := $(VENV)/bin/vmgen
STAMP  := $(VENV)/.installed
DEMO   := build/demo
# Fixtures that warn on purpose (an enum without a 0 value; tests/test_golden.py): the demo
# leaves them out, so that a warning in its output means something.
WARNING_FIXTURES := fixtures/uart.h fixtures/display.h
DEMO_HEADERS := $(filter-out $(WARNING_FIXTURES),$(wildcard fixtures/*.h))
CC     ?= cc
# Debian packages the tests use: compilers for the generated C, the third-party ASN.1
# tools that must read vmgen's records, real QEMU (the stream and import tests save and
# load its migration streams) and clang's libFuzzer (tests/test_fuzz.py).
APT_PACKAGES := gcc clang make asn1c dumpasn1 openssl qemu-system-x86 libclang-rt-dev
# Debian packages of the codec benchmark's protobuf baselines (protobuf-c 1.4, nanopb
# 0.4.7): tests/test_bench_baselines.py builds them too (and fails under CI without them).
BASELINE_PACKAGES := protobuf-compiler protobuf-c-compiler libprotobuf-c-dev nanopb libnanopb-dev
# What `make bench` needs beyond that: valgrind for the instruction counts.
BENCH_PACKAGES := valgrind

.PHONY: all demo test lint pytest system-deps bench-deps clean

all: test

# Installs (as root, with apt-get) whichever of PACKAGES is missing: tools are looked up on
# the PATH, libraries through dpkg.
define install_missing
	@missing=""; for t in $(1); do \
	  command -v $$t >/dev/null || dpkg-query -W -f='$${Status}' $$t 2>/dev/null | grep -q 'ok installed' \
	    || missing="$$missing $$t"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "missing:$$missing (install: apt-get install$$missing)" >&2; exit 1; fi; \
	fi
endef

system-deps:
	$(call install_missing,$(APT_PACKAGES) $(BASELINE_PACKAGES))

bench-deps: system-deps
	$(call install_missing,$(BENCH_PACKAGES))

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -e '.[test]'
	touch $@

demo: $(STAMP) system-deps
	rm -rf $(DEMO) && mkdir -p $(DEMO)
	$(VMGEN) runtime -o $(DEMO)
	$(VMGEN) generate -I fixtures -o $(DEMO) $(DEMO_HEADERS)
	$(CC) -std=c99 -Wall -Wextra -Werror -pedantic -I$(DEMO) -Ifixtures \
	  fixtures/demo/rtc_demo.c $(DEMO)/rtc-visit.c $(DEMO)/vmgen-visitor.c $(DEMO)/vmgen-ber.c \
	  $(DEMO)/vmgen-legacy.c \
	  -o $(DEMO)/rtc-demo
	$(DEMO)/rtc-demo $(DEMO)/rtc.ber
	$(PY) fixtures/demo/show.py $(DEMO) $(DEMO)/rtc.ber
	@echo "--- adopting QEMU's i8254 from its own struct (fixtures/adopt/i8254.h)"
	qemu-system-x86_64 -M pc -accel tcg -display none -nodefaults -dump-vmstate $(DEMO)/dump.json
	$(VMGEN) import --dump-vmstate $(DEMO)/dump.json --device i8254 \
	  --struct fixtures/adopt/i8254.h:PITCommonState -I fixtures/adopt/include -o $(DEMO)/i8254.toml
	$(VMGEN) check -I fixtures/adopt/include --annotations $(DEMO)/i8254.toml \
	  --vmstate $(DEMO)/dump.json fixtures/adopt/i8254.h

lint: $(STAMP)
	$(VENV)/bin/ruff check vmgen tests
	$(VENV)/bin/mypy

pytest: $(STAMP) system-deps
	$(PY) -m pytest -q

test: lint pytest

clean:
	rm -rf build .pytest_cache .mypy_cache .ruff_cache .hypothesis

# ---- benchmarks (results in BENCHMARKS.md) -------------------------------------
# bench-codec rewrites BENCHMARKS.md's codec tables (with instruction counts under
# callgrind: BENCH_FLAGS= leaves them out); bench-generator prints the generator's
# (start-up, large headers, a QEMU-like file, 200 headers), which its hand-written
# section quotes; bench-stream times vmgen stream against cp.
BENCH_FLAGS ?= --callgrind
.PHONY: bench bench-codec bench-generator bench-stream
bench: bench-codec bench-generator bench-stream

bench-codec: $(STAMP) bench-deps
	$(PY) tests/bench/bench_codec.py $(BENCH_FLAGS)

bench-generator: $(STAMP) system-deps
	$(PY) tests/bench/bench_startup.py
	$(PY) tests/bench/bench_scale.py large tu many

# bench-stream: vmgen stream to-ber + from-ber of a real QEMU stream of a VM with
# 512 MiB of random RAM against cp of the same file (BENCHMARKS.md quotes it).
bench-stream: $(STAMP) system-deps
	$(PY) tests/bench/bench_stream.py

# The generated Python module before (engine in the module, vmgen at a baseline
# revision) and after the Python runtime (issue 13), timed in one process.
.PHONY: bench-pyruntime
bench-pyruntime: $(STAMP)
	$(PY) tests/bench/bench_pyruntime.py

# load_legacy / save_legacy of real QEMU device sections (needs qemu-system-x86_64): vmgen
# at main against this checkout, in alternating child processes (BENCHMARKS.md, "Real
# device sections through the compiled legacy codec").
.PHONY: bench-pylayouts
bench-pylayouts: $(STAMP) system-deps
	$(PY) tests/bench/bench_pylayouts.py

# Fuzzing (tests/fuzz/): builds a libFuzzer target per fixture device state (plain and
# with the structure-aware BER mutator) into build/fuzz and runs each for FUZZ_SECONDS
# (or, with FUZZ_RUNS, until that many executions, FUZZ_SECONDS at most).
FUZZ_SECONDS ?= 60
FUZZ_RUNS ?=
.PHONY: fuzz
fuzz: $(STAMP)
	$(PY) -m tests.fuzz.build --out build/fuzz --seconds $(FUZZ_SECONDS) $(if $(FUZZ_RUNS),--runs $(FUZZ_RUNS))
