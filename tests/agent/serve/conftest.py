"""`agent serve` tests: one server per test module on 127.0.0.1, over the root conftest's `loaded` model."""
from __future__ import annotations

import pytest

from tests.agent.serve.serve_helpers import running_server


@pytest.fixture(scope="module")
def served(loaded):
    """One server for a test module: (base URL, server)."""
    with running_server(loaded) as pair:
        yield pair
