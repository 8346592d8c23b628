import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def build_dir() -> Path:
    """The CMake build tree (PYBRIDGE_BUILD_DIR, default ./build)."""
    path = Path(os.environ.get("PYBRIDGE_BUILD_DIR", ROOT / "build"))
    if not path.is_dir():
        pytest.fail(f"no build tree at {path}: build first (make build) or set PYBRIDGE_BUILD_DIR")
    return path
