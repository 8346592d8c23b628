#!/usr/bin/env bash
# Installs pybridge from a build tree into a fresh prefix, then builds a tiny host against
# it twice — with find_package(pybridge CONFIG) and with pkg-config — runs both, and
# installs the py/ package with pip into a target folder and imports it.
# Usage: run.sh BUILD_DIR SOURCE_DIR CMAKE PYTHON
set -euo pipefail
build=$1 src=$2 cmake=$3 python=$4
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
"$cmake" --install "$build" --prefix "$prefix/usr" >/dev/null
"$cmake" -S "$src/tests/consumer" -B "$prefix/build" -DCMAKE_PREFIX_PATH="$prefix/usr" >/dev/null
"$cmake" --build "$prefix/build" >/dev/null
"$prefix/build/consumer"
PKG_CONFIG_PATH="$prefix/usr/lib/pkgconfig" cc -std=c99 "$src/tests/consumer/main.c" \
  $(PKG_CONFIG_PATH="$prefix/usr/lib/pkgconfig" pkg-config --cflags --libs pybridge) -o "$prefix/pc-consumer"
"$prefix/pc-consumer"
"$python" -m pip install -q --no-deps --no-build-isolation --disable-pip-version-check --target "$prefix/site" "$src" \
  2> >(grep -v "^WARNING: Location '.*' is ignored" >&2)
PYTHONPATH="$prefix/site" "$python" -c "import pybridge.models, pybridge.ops; print('pip-installed pybridge', pybridge.__version__)"
