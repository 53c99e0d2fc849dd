"""Fixtures shared by the whole test suite."""
import pytest
import torch
from mmengine.registry import DefaultScope


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
