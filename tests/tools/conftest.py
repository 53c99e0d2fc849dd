"""Shared helpers for the tools/ tests: locating and importing the scripts."""
from types import ModuleType
from typing import Callable

import pytest

from tests.helpers import TOOLS_DIR, load_tool


@pytest.fixture(scope='session')
def tool_module() -> Callable[[str], ModuleType]:
    """:func:`load_tool`, for tests that import a script."""
    return load_tool


@pytest.fixture(scope='session')
def tools_dir() -> str:
    """Absolute path of the checkout's tools/ directory."""
    return TOOLS_DIR


@pytest.fixture(scope='session')
def make_demo_data() -> ModuleType:
    """:mod:`greenmim_mm.datasets.demo_data`, the generator behind
    ``tools/dataset_converters/make_demo_data.py``."""
    from greenmim_mm.datasets import demo_data
    return demo_data
