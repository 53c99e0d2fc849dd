"""``pip install -e .`` into an existing OpenMMLab environment: ranges, not the lock."""
import os.path as osp
from importlib import metadata

import pytest
from packaging.requirements import Requirement

from tests.helpers import REPO_ROOT


def locked_versions() -> dict:
    """Name -> version of every ``name==version`` line in requirements/*.txt."""
    locked = {}
    for name in ('runtime.txt', 'torch.txt', 'mmcv.txt'):
        with open(osp.join(REPO_ROOT, 'requirements', name)) as f:
            for line in f:
                line = line.split('#', 1)[0].strip()
                if '==' in line:
                    package, version = line.split('==')
                    locked[package.lower()] = version
    return locked


@pytest.fixture(scope='module')
def requirements() -> list:
    """The installed distribution's metadata (what pip resolves against)."""
    return [Requirement(r) for r in metadata.requires('greenmim_mm') or []]


def test_no_exact_pins(requirements):
    assert requirements
    for req in requirements:
        assert not any(spec.operator in ('==', '===') for spec in req.specifier), str(req)


def test_the_lock_lies_inside_the_ranges(requirements):
    """`make install` installs requirements/*.txt exactly; those releases must satisfy the
    ranges that `pip install -e .` declares."""
    locked = locked_versions()
    for req in requirements:
        if req.marker is not None:  # extras
            continue
        assert req.name.lower() in locked, f'{req.name} is not locked in requirements/'
        assert req.specifier.contains(locked[req.name.lower()], prereleases=True), str(req)
