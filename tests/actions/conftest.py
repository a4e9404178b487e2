"""Fixtures for the action layer's tests."""
from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    # The lead's tests/conftest.py does this too; keep this folder runnable on its own.
    sys.path.insert(0, str(REPO))

