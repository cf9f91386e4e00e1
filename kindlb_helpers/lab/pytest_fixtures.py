"""Pytest fixtures for the cluster tier. Import into a conftest.py:

    from kindlb_helpers.lab.pytest_fixtures import lab_cluster  # noqa: F401

``lab_cluster`` (session scope) calls ``up()`` (reusing a healthy cluster) and returns its dict;
at the end of the session it deletes the cluster unless ``KINDLB_KEEP_CLUSTER`` is set, or the
cluster already existed before the session. ``KINDLB_LAB_NAME`` picks the cluster name.
"""
from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="session")
def lab_cluster():
    from . import clusters, down, up

    name = os.environ.get("KINDLB_LAB_NAME", "kindlb")
    existed = name in clusters()
    info = up(name)
    yield info
    if not os.environ.get("KINDLB_KEEP_CLUSTER") and not existed:
        down(name)
