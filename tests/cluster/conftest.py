"""The cluster tier (``make test-cluster``): every test here needs a real kind cluster and is marked ``cluster``.
Its fixtures (``lab_cluster``, ``cluster``), the failure hook and its settings live in tests/_cluster_tier.py,
shared with the browser tier."""
from __future__ import annotations

from pathlib import Path

import pytest


def pytest_collection_modifyitems(items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.cluster)
