#!/usr/bin/env bash
# Builds pybridge against this machine's Python and torch and runs the CUDA hand-off checks
# (tests/gpu/cuda_handoff.cpp). For a machine with an NVIDIA GPU: its own Python (3.11 or
# newer, with torch built for CUDA) is used, not the project's venv.
#
#   tests/gpu/run.sh                 # PYTHON=python3, build tree build-gpu/
#   PYTHON=/opt/py/bin/python BUILD=/tmp/b tests/gpu/run.sh
#
# Needs cmake (>= 3.20) and a C++17 compiler. pybind11 (>= 3) comes from that Python; where
# it is not installed and nothing can be downloaded, put the pybind11 package directory in
# tests/gpu/deps/ (cp -r <venv>/lib/python3.*/site-packages/pybind11 tests/gpu/deps/).
# Exit status: that of cuda_handoff (0 passed, 1 a check failed, 77 no CUDA device).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PYTHON=${PYTHON:-python3}
BUILD=${BUILD:-$ROOT/build-gpu}
PYTHON=$(command -v "$PYTHON")

if ! "$PYTHON" -c 'import pybind11' 2>/dev/null && [ -d "$ROOT/tests/gpu/deps/pybind11" ]; then
  export PYTHONPATH="$ROOT/tests/gpu/deps${PYTHONPATH:+:$PYTHONPATH}"
fi
"$PYTHON" -c 'import sys, torch, pybind11; print("python", sys.version.split()[0], "torch", torch.__version__,
      "cuda", torch.version.cuda, "pybind11", pybind11.__version__)'

GENERATOR=()
command -v ninja >/dev/null && GENERATOR=(-G Ninja)
cmake -S "$ROOT" -B "$BUILD" "${GENERATOR[@]}" -DCMAKE_BUILD_TYPE=Release -DPYBRIDGE_PYTHON="$PYTHON" \
  -DPYBRIDGE_BUILD_TESTS=OFF -DPYBRIDGE_BUILD_EXAMPLES=OFF -DPYBRIDGE_BUILD_BENCH=OFF >/dev/null
cmake --build "$BUILD" --target cuda_handoff -j "$(nproc)"
exec "$BUILD/tests/gpu/cuda_handoff"
