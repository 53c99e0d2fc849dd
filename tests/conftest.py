"""Fixtures shared by the whole test suite."""
import pytest
import torch


@pytest.fixture
def restore_determinism():
    """Runners with ``randomness.deterministic=True`` switch torch's deterministic algorithms
    on for the whole process; switch them back for the tests that follow."""
    enabled = torch.are_deterministic_algorithms_enabled()
    yield
    torch.use_deterministic_algorithms(enabled)
