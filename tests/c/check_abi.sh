#!/usr/bin/env bash
# The C ABI's symbol hygiene, for CI:
#   1. libpybridge exports exactly the functions listed in bridge/pybridge.symbols (an
#      accidental ABI change fails here: update the list, and PYB_ABI_VERSION if incompatible);
#   2. the C test program calls every one of them.
# Usage: check_abi.sh LIBPYBRIDGE.so SOURCE_DIR
set -euo pipefail
lib=$1
src=$2
exported=$(nm -D --defined-only "$lib" | awk '{print $3}' | sort)
if ! diff <(echo "$exported") "$src/bridge/pybridge.symbols"; then
  echo "FAIL: libpybridge's exported symbols differ from bridge/pybridge.symbols (< exported, > listed)"
  exit 1
fi
missing=0
for sym in $exported; do
  if ! grep -qw "$sym" "$src/tests/c/test_c_api.c"; then
    echo "FAIL: $sym is exported but tests/c/test_c_api.c never calls it"
    missing=1
  fi
done
[ "$missing" = 0 ] || exit 1
echo "ABI: $(echo "$exported" | wc -l) exported functions, as listed, all called by the C test"
