"""Where the configs and tools that ship with the package are.

As mmpretrain and mmdet do, an installed greenmim_mm carries ``configs/`` and ``tools/`` in
``greenmim_mm/.mim`` (``setup.py`` copies them into wheels and links them in editable
installs), so code that needs a config finds it in any installation; in a source checkout its
own ``configs/`` and ``tools/`` come first.
"""
import os.path as osp
from typing import Tuple

PACKAGE_DIR = osp.dirname(osp.abspath(__file__))
MIM_DIR = osp.join(PACKAGE_DIR, '.mim')


def _roots(kind: str) -> Tuple[str, ...]:
    """Where ``configs``/``tools`` are looked up: a source checkout's own folder first (a
    ``pip install .`` run in the checkout leaves copies in ``.mim`` that would go stale),
    then the copies or links in ``greenmim_mm/.mim``."""
    checkout = osp.dirname(PACKAGE_DIR)
    roots = (osp.join(MIM_DIR, kind), )
    if osp.isfile(osp.join(checkout, 'setup.py')):
        roots = (osp.join(checkout, kind), ) + roots
    return roots


def _shipped(kind: str, name: str) -> str:
    candidates = [osp.join(root, name) for root in _roots(kind)]
    for path in candidates:
        if osp.exists(path):
            return path
    raise FileNotFoundError(
        f'greenmim_mm ships no {kind[:-1]} {name!r} (looked for {" and ".join(candidates)}). '
        f'The {kind} are installed with the package: reinstall it with `pip install .` (or '
        '`pip install -e .` in a checkout).')


def config_path(name: str) -> str:
    """The absolute path of a shipped config.

    Args:
        name (str): The config's path relative to ``configs/``, e.g.
            ``'greenmim_swin_b_pretrain.py'`` or ``'benchmark/simmim_swin-b_224.py'``.

    Returns:
        str: The file in the checkout's ``configs`` or in ``greenmim_mm/.mim/configs``.
    """
    return _shipped('configs', name)


def tool_path(name: str) -> str:
    """The absolute path of a shipped tool, e.g. ``'train.py'`` (relative to ``tools/``)."""
    return _shipped('tools', name)
