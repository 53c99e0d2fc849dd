"""Fixtures shared by the whole test suite, and its thread setting."""
import os

import pytest
import torch
from mmengine.registry import DefaultScope


def pytest_configure(config):
    """One intra-op thread, in this process and the tools it starts, unless OMP_NUM_THREADS
    says otherwise; `make test` runs two such worker processes (pytest-xdist). With two
    threads, two OpenMP threads spin-wait at every small op of the tiny models; the
    measurements are in docs/en/get_started.md (Tests and lint)."""
    os.environ.setdefault('OMP_NUM_THREADS', '1')
    torch.set_num_threads(int(os.environ['OMP_NUM_THREADS']))


@pytest.fixture
def restore_determinism():
    """Runners with ``randomness.deterministic=True`` switch torch's deterministic algorithms
    on for the whole process; switch them back for the tests that follow."""
    enabled = torch.are_deterministic_algorithms_enabled()
    yield
    torch.use_deterministic_algorithms(enabled)


@pytest.fixture
def mmpretrain_scope():
    """mmpretrain as the default registry scope for one test only: a global
    ``init_default_scope`` would leak into the tests that follow."""
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        yield
