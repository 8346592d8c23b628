# pybridge: `make demo` and `make test` do every set-up step themselves (see README.md).
PYBRIDGE_CACHE_DIR ?= $(HOME)/.cache/pybridge
export PYBRIDGE_CACHE_DIR
VENV  ?= $(PYBRIDGE_CACHE_DIR)/venv
export PYBRIDGE_VENV := $(VENV)
BUILD ?= build
BUILD_TYPE ?= RelWithDebInfo
PYTHON := $(VENV)/bin/python
# cmake and ninja come from the venv (pyproject's "build" extra).
CMAKE := $(VENV)/bin/cmake
CTEST := $(VENV)/bin/ctest

.PHONY: all setup venv build demo test bench clean

all: build

setup venv:
	@scripts/bootstrap.sh >/dev/null

build: setup
	$(CMAKE) -S . -B $(BUILD) -G Ninja -DCMAKE_MAKE_PROGRAM=$(VENV)/bin/ninja \
	  -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DPYBRIDGE_PYTHON=$(PYTHON)
	$(CMAKE) --build $(BUILD)

demo: build
	HF_HUB_OFFLINE=1 $(BUILD)/examples/sentence_similarity

test: build
	$(CTEST) --test-dir $(BUILD) --output-on-failure

bench: build
	$(BUILD)/bench/dlpack_bench

clean:
	rm -rf $(BUILD)
