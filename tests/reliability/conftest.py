"""Fixtures of the reliability tests (helpers in ``tests/reliability/helpers.py``)."""
import uuid

import pytest
import torch

from tests.helpers import load_tool


@pytest.fixture(scope='session')
def demo_data(tmp_path_factory) -> str:
    """``tools/dataset_converters/make_demo_data.py`` output at 64 px: 12 pre-training images,
    2 train + 1 val annotated ones."""
    root = str(tmp_path_factory.mktemp('reliability') / 'demo')
    load_tool('make_demo_data').main([
        '--out', root, '--num-train', '2', '--num-val', '1', '--num-pretrain', '10', '--size', '64'
    ])
    return root


@pytest.fixture
def unique_name() -> str:
    """An experiment name no other runner in this process uses."""
    return f'reliability_{uuid.uuid4().hex[:12]}'


@pytest.fixture(autouse=True)
def restore_torch_globals():
    """One intra-op thread (as the subprocesses get), and undo what an in-process runner
    changes globally (the demo config turns on deterministic algorithms)."""
    deterministic = torch.are_deterministic_algorithms_enabled()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.use_deterministic_algorithms(deterministic)
    torch.set_num_threads(threads)
