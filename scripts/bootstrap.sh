#!/usr/bin/env bash
# Sets up everything pybridge needs on a fresh Debian machine, and nothing twice:
#   1. Debian packages (compilers, make, GoogleTest, clang's fuzzer runtime), installed only if missing;
#   2. the Python virtual environment, in a cache folder outside the clone so later runs
#      (and CI) reuse it; reinstalled only when pyproject.toml's dependencies change.
# Prints the venv's python on its last line.
#
# Environment: PYBRIDGE_CACHE_DIR (default ~/.cache/pybridge), PYBRIDGE_VENV (default
# $PYBRIDGE_CACHE_DIR/venv), PYBRIDGE_BASE_PYTHON (default: python3.11 on PATH).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${PYBRIDGE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/pybridge}"
venv="${PYBRIDGE_VENV:-$cache/venv}"
log() { echo "[bootstrap] $*" >&2; }

# --- 1. Debian packages -----------------------------------------------------------------
apt_packages=(g++ make libgtest-dev clang libclang-rt-14-dev pkgconf)
missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  log "installing Debian packages: ${missing[*]}"
  sudo_cmd=(); [ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}" >&2
fi

# --- 2. The Python environment ------------------------------------------------------------
# One Python for everything: the libpython pybridge links, the stdlib the embedded
# interpreter finds, and the venv's base interpreter. It must have a shared libpython.
base_python="${PYBRIDGE_BASE_PYTHON:-$(command -v python3.11 || true)}"
[ -n "$base_python" ] || { log "error: python3.11 not found (set PYBRIDGE_BASE_PYTHON)"; exit 1; }
# The real interpreter behind pyenv shims or a venv: <base_prefix>/bin/python3.11.
base_python="$("$base_python" -c 'import os, sys; print(os.path.join(sys.base_prefix, "bin", "python%d.%d" % sys.version_info[:2]))')"
"$base_python" - <<'PY' || exit 1
import sys, sysconfig
if sys.version_info[:2] != (3, 11):
    sys.exit(f"[bootstrap] error: {sys.executable} is Python {sys.version.split()[0]}, pybridge needs 3.11")
if not sysconfig.get_config_var("Py_ENABLE_SHARED"):
    sys.exit(f"[bootstrap] error: {sys.executable} has no shared libpython (build it with --enable-shared)")
PY

if [ -f "$venv/pyvenv.cfg" ] && ! grep -qx "home = $(dirname "$base_python")" "$venv/pyvenv.cfg"; then
  log "the venv at $venv was made from another Python; recreating it"
  rm -rf "$venv"
fi
if [ ! -x "$venv/bin/python" ]; then
  log "creating the virtual environment at $venv"
  mkdir -p "$(dirname "$venv")"
  "$base_python" -m venv "$venv"
fi

# The dependency list (not the whole pyproject.toml) decides whether pip runs again.
mapfile -t deps < <("$venv/bin/python" - "$root/pyproject.toml" <<'PY'
import sys, tomllib
project = tomllib.load(open(sys.argv[1], "rb"))["project"]
print("\n".join(project["dependencies"]))
for extra in project.get("optional-dependencies", {}).values():
    print("\n".join(extra))
PY
)
stamp="$venv/.pybridge-deps"
want="$(printf '%s\n' "${deps[@]}" | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  log "installing the Python dependencies (torch is large: a few minutes the first time)"
  # The dependencies only: pybridge's own package is used from this clone's py/.
  # pip's notes about this machine's missing extra index folders are noise: filtered.
  "$venv/bin/python" -m pip install -q --disable-pip-version-check "${deps[@]}" \
    2> >(grep -v "^WARNING: Location '.*' is ignored" >&2)
  echo "$want" > "$stamp"
fi
echo "$venv/bin/python"
