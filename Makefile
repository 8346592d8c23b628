# pybridge: `make demo` and `make test` do every set-up step themselves (see README.md).
XDG_CACHE_HOME ?= $(HOME)/.cache
PYBRIDGE_CACHE_DIR ?= $(XDG_CACHE_HOME)/pybridge
export PYBRIDGE_CACHE_DIR
VENV  ?= $(PYBRIDGE_CACHE_DIR)/venv
export PYBRIDGE_VENV := $(VENV)
BUILD ?= build
BUILD_TYPE ?= RelWithDebInfo
PYTHON := $(VENV)/bin/python
# cmake and ninja come from the venv (pyproject's "build" extra).
CMAKE := $(VENV)/bin/cmake
CTEST := $(VENV)/bin/ctest

.PHONY: all setup venv build demo test tsan asan fuzz bench doctor classify clean

all: build

setup venv:
	@scripts/bootstrap.sh >/dev/null

build: setup
	$(CMAKE) -S . -B $(BUILD) -G Ninja -DCMAKE_MAKE_PROGRAM=$(VENV)/bin/ninja \
	  -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DPYBRIDGE_PYTHON=$(PYTHON)
	$(CMAKE) --build $(BUILD)

demo: build
	HF_HUB_OFFLINE=1 $(BUILD)/examples/sentence_similarity

# What the embedded Python is, and whether it works: the first thing to run when something is wrong.
doctor: build
	$(BUILD)/tools/pybridge doctor

# ResNet-18 on scikit-image's sample photos (random weights unless WEIGHTS=file.pth/.safetensors).
classify: build
	$(BUILD)/examples/classify_images $(if $(WEIGHTS),--weights $(WEIGHTS))

test: build
	$(CTEST) --test-dir $(BUILD) --output-on-failure

# The gil/ tests under ThreadSanitizer (CI runs this too).
tsan: setup
	$(CMAKE) --preset tsan -DPYBRIDGE_PYTHON=$(PYTHON) -DCMAKE_MAKE_PROGRAM=$(VENV)/bin/ninja
	$(CMAKE) --build build-tsan --target pybridge_gil_tests
	TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" build-tsan/tests/pybridge_gil_tests

# The gil/ tests, the DLPack and value suites, and the C ABI test (with LeakSanitizer) under
# AddressSanitizer + UndefinedBehaviorSanitizer.
asan: setup
	$(CMAKE) --preset asan -DPYBRIDGE_PYTHON=$(PYTHON) -DCMAKE_MAKE_PROGRAM=$(VENV)/bin/ninja
	$(CMAKE) --build build-asan --target pybridge_gil_tests pybridge_tests pybridge_c_tests
	ASAN_OPTIONS="detect_leaks=0" UBSAN_OPTIONS="print_stacktrace=1" build-asan/tests/pybridge_gil_tests
	ASAN_OPTIONS="detect_leaks=0" UBSAN_OPTIONS="print_stacktrace=1" build-asan/tests/pybridge_tests --gtest_filter='DLPack*:Values.*'
	ASAN_OPTIONS="detect_leaks=1" LSAN_OPTIONS="suppressions=$(CURDIR)/tests/c/lsan.supp" UBSAN_OPTIONS="print_stacktrace=1" \
	  build-asan/tests/pybridge_c_tests

# The marshalling fuzzer (libFuzzer + ASan/UBSan, clang) for FUZZ_SECONDS over the seed corpus.
FUZZ_SECONDS ?= 60
fuzz: setup
	@command -v clang++ >/dev/null || { echo "make fuzz needs clang: apt-get install clang libclang-rt-14-dev"; exit 1; }
	$(CMAKE) --preset fuzz -DPYBRIDGE_PYTHON=$(PYTHON) -DCMAKE_MAKE_PROGRAM=$(VENV)/bin/ninja
	$(CMAKE) --build build-fuzz --target marshal_fuzzer dlpack_fuzzer
	mkdir -p build-fuzz/corpus build-fuzz/dlpack_corpus
	ASAN_OPTIONS="detect_leaks=0" build-fuzz/marshal_fuzzer -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
	  -print_final_stats=1 build-fuzz/corpus tests/fuzz/corpus
	ASAN_OPTIONS="detect_leaks=0" build-fuzz/dlpack_fuzzer -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
	  -print_final_stats=1 build-fuzz/dlpack_corpus tests/fuzz/dlpack_corpus

bench: build
	$(BUILD)/bench/dispatch_bench
	$(BUILD)/bench/marshal_bench
	$(BUILD)/bench/dlpack_bench
	$(BUILD)/bench/op_bench
	HF_HUB_OFFLINE=1 $(BUILD)/bench/model_bench

clean:
	rm -rf $(BUILD) build-tsan build-asan build-fuzz
