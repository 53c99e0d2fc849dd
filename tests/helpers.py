"""Helpers shared by the test modules: where the checkout's tools are, and importing them.

Test modules import from here (or take the fixtures of ``tests/conftest.py``), never from
another test module.
"""
import importlib.util
import os.path as osp
from types import ModuleType

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
TOOLS_DIR = osp.join(REPO_ROOT, 'tools')

# Script name -> its path under tools/, laid out as in mmpretrain and mmdet.
TOOL_PATHS = {
    'train': 'train.py',
    'test': 'test.py',
    'dist_train': 'dist_train.sh',
    'dist_test': 'dist_test.sh',
    'benchmark': 'analysis_tools/benchmark.py',
    'pretrain_gain': 'analysis_tools/pretrain_gain.py',
    'convert_checkpoint': 'model_converters/convert_checkpoint.py',
    'make_demo_data': 'dataset_converters/make_demo_data.py',
    'visualize_reconstruction': 'visualization/visualize_reconstruction.py',
}


def tool_path(name: str) -> str:
    """Absolute path of a script in tools/.

    Args:
        name (str): A key of :data:`TOOL_PATHS` (``'train'``, ``'benchmark'``, ...).

    Returns:
        str: The script's path.
    """
    return osp.join(TOOLS_DIR, TOOL_PATHS[name])


def load_tool(name: str) -> ModuleType:
    """Import a script of tools/ as a module (tools/ is not a package); ``main`` is not run.

    Args:
        name (str): A key of :data:`TOOL_PATHS` naming a Python script.

    Returns:
        ModuleType: The imported script.
    """
    spec = importlib.util.spec_from_file_location(f'greenmim_tools_{name}', tool_path(name))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
