"""Fixtures of the algorithm tests: the message hub's ``iter``, which seeds GreenMIM's masks."""
import uuid

import pytest
from mmengine.logging import MessageHub


@pytest.fixture
def hub_iter():
    """Set the current message hub's ``iter``; a fresh hub without it is current afterwards."""
    hub = MessageHub.get_instance(f'test_greenmim_{uuid.uuid4().hex}')

    def set_iter(i: int) -> None:
        hub.update_info('iter', i)

    yield set_iter
    MessageHub.get_instance(f'test_greenmim_clean_{uuid.uuid4().hex}')


@pytest.fixture
def no_iter():
    """A current message hub without ``iter`` (as outside a training loop)."""
    MessageHub.get_instance(f'test_greenmim_noiter_{uuid.uuid4().hex}')
