"""Shared helpers for the tools/ tests: locating and importing the scripts."""
import importlib.util
import os.path as osp
from types import ModuleType
from typing import Callable

import pytest

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOLS_DIR = osp.join(REPO_ROOT, 'tools')


def load_tool(name: str) -> ModuleType:
    """Import ``tools/<name>.py`` as a module (tools/ is not a package).

    Args:
        name (str): Script name without ``.py``.

    Returns:
        ModuleType: The imported script; its ``main`` is not run.
    """
    path = osp.join(TOOLS_DIR, f'{name}.py')
    spec = importlib.util.spec_from_file_location(f'tools_{name}', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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
    """The ``tools/make_demo_data.py`` module."""
    return load_tool('make_demo_data')
