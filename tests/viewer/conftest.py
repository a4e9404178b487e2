"""Fixtures for the viewer tests: recorded runs in a temporary runs folder."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # the package is not installed; tests run from the checkout
    sys.path.insert(0, str(ROOT))

from viewer_runs import all_runs  # noqa: E402  (needs the path above)


@pytest.fixture
def runs(tmp_path: Path) -> dict[str, Path]:
    """Success, failure and crashed runs in tmp_path/runs."""
    return all_runs(tmp_path / "runs")


@pytest.fixture
def anyio_backend() -> str:
    """Pilot tests run on asyncio through anyio's pytest plugin (marked `anyio`)."""
    return "asyncio"
