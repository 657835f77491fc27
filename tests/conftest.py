"""Shared fixtures: paths and the Chromium that the Makefile installs."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Debian's chromium through playwright, one per test session: the sync API allows only
    one playwright instance per thread, so the widget and end-to-end tests share it."""
    from .browser import launch_browser

    with launch_browser() as launched:
        yield launched
