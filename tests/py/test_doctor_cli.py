"""`pybridge doctor`, run as a user runs it: a healthy environment, a broken torch, no Python."""

import os
import subprocess


def doctor(build_dir, tmp_path, **env):
    exe = build_dir / "tools" / "pybridge"
    # The caller's own PYBRIDGE_* settings would change what doctor reports: only the test's.
    base = {k: v for k, v in os.environ.items() if not k.startswith("PYBRIDGE_")}
    return subprocess.run([str(exe), "doctor"], capture_output=True, text=True, timeout=600,
                          env={**base, "HF_HUB_OFFLINE": "1", **env}, cwd=tmp_path)


def test_healthy_environment_passes_every_check(build_dir, tmp_path):
    r = doctor(build_dir, tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout
    for line in ("  [ok]   import torch: torch 2.14.1", "  [ok]   DLPack round trip: host -> torch -> host, zero-copy",
                 "  [ok]   compile workers start: inductor's worker pool answered 'ready'",
                 "  [ok]   spawned process: multiprocessing 'spawn' child returned 2**10"):
        assert line in out, out
    assert "  C exchange API         present (torch's table: DLPack 1.3)" in out
    assert "  virtual environment    " in out and "[FAIL]" not in out
    assert out.endswith("all checks passed\n")


def test_a_broken_torch_fails_with_a_fix(build_dir, tmp_path):
    fake = tmp_path / "fake" / "torch"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('this torch is broken on purpose')\n")
    r = doctor(build_dir, tmp_path, PYBRIDGE_SYS_PATH=str(tmp_path / "fake"))
    assert r.returncode == 1
    assert "  [FAIL] import torch: ImportError: this torch is broken on purpose\n         fix: install the pinned packages:" in r.stdout
    assert r.stdout.endswith("1 check(s) failed\n")


def test_a_missing_python_is_named_with_a_fix(build_dir, tmp_path):
    r = doctor(build_dir, tmp_path, PYBRIDGE_PYTHON="/nonexistent/python")
    assert r.returncode == 1
    assert "[FAIL] start the embedded interpreter: pybridge: Python executable '/nonexistent/python' cannot be used" in r.stdout
    assert "fix: run `make setup`" in r.stdout
