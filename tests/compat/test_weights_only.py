"""Saving and resuming mmengine checkpoints under torch's ``weights_only=True`` default."""
import os.path as osp
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
import torch.nn as nn
from mmengine.logging import HistoryBuffer, MessageHub
from mmengine.model import BaseModel
from mmengine.runner import CheckpointLoader, Runner
from torch.utils.data import Dataset

from greenmim_mm.compat import weights_only
from greenmim_mm.compat.weights_only import (checkpoint_safe_globals,
                                             register_checkpoint_safe_globals)


class ToyModel(BaseModel):
    """Linear regression, enough for a runner to train, log and checkpoint."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(2, 1)

    def forward(self, inputs: list, targets: list, mode: str = 'tensor'):
        """Return the loss dict (``mode='loss'``) or the predictions."""
        out = self.linear(torch.stack(inputs))  # (B, 1)
        if mode == 'loss':
            return dict(loss=((out - torch.stack(targets))**2).mean())
        return out


class ToyDataset(Dataset):
    """Eight samples ``x = (i, i)``, ``y = i``."""

    def __len__(self) -> int:
        return 8

    def __getitem__(self, index: int) -> dict:
        return dict(inputs=torch.full((2, ), float(index)), targets=torch.tensor([float(index)]))


@pytest.fixture
def user_safe_globals():
    """Start from an empty user allow-list and restore the original one afterwards."""
    saved = torch.serialization.get_safe_globals()
    torch.serialization.clear_safe_globals()
    yield
    torch.serialization.clear_safe_globals()
    torch.serialization.add_safe_globals(saved)


def build_runner(work_dir: str, max_iters: int, name: str, resume_from: str = None) -> Runner:
    """A CPU runner with an LR schedule, logging every iteration and checkpoints every 2."""
    return Runner(
        model=ToyModel(),
        work_dir=work_dir,
        experiment_name=name,
        train_dataloader=dict(
            dataset=ToyDataset(),
            sampler=dict(type='DefaultSampler', shuffle=True),
            batch_size=2,
            num_workers=0),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01, momentum=0.9)),
        param_scheduler=dict(type='LinearLR', start_factor=0.5, by_epoch=False, begin=0, end=4),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        default_hooks=dict(
            logger=dict(type='LoggerHook', interval=1),
            checkpoint=dict(type='CheckpointHook', interval=2, by_epoch=False)),
        log_processor=dict(by_epoch=False),
        resume=resume_from is not None,
        load_from=resume_from,
        randomness=dict(seed=0))


@pytest.fixture
def checkpoint(tmp_path) -> str:
    """Path of an mmengine checkpoint after 2 training iterations."""
    # mmengine shares loggers and message hubs by experiment name: keep names unique.
    build_runner(str(tmp_path), max_iters=2, name=f'first_{tmp_path.name}').train()
    path = osp.join(str(tmp_path), 'iter_2.pth')
    assert osp.exists(path)
    return path


def test_upstream_still_needs_the_workaround(user_safe_globals, checkpoint):
    """mmengine's own loader cannot read its checkpoints under torch's default; the day it
    can (or torch stops defaulting to weights_only), this fails: delete the workaround."""
    assert weights_only.NEEDED
    with pytest.raises(pickle.UnpicklingError, match='HistoryBuffer'):
        CheckpointLoader.load_checkpoint(checkpoint, map_location='cpu')


@pytest.mark.slow
def test_importing_the_package_is_enough(checkpoint):
    """What mmdet's test.py, DetInferencer and init_detector rely on: custom_imports."""
    code = textwrap.dedent(f'''
        import torch
        from mmengine.runner import CheckpointLoader
        import greenmim_mm
        ckpt = CheckpointLoader.load_checkpoint({checkpoint!r}, map_location='cpu')
        print(sorted(ckpt))
    ''')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "'message_hub'" in out.stdout and "'state_dict'" in out.stdout


def test_weights_only_load_needs_registration(user_safe_globals, checkpoint):
    with pytest.raises(pickle.UnpicklingError, match='HistoryBuffer'):
        torch.load(checkpoint)
    register_checkpoint_safe_globals()
    ckpt = torch.load(checkpoint)
    buffers = ckpt['message_hub']['log_scalars']
    assert isinstance(buffers['train/loss'], HistoryBuffer)
    assert len(buffers['train/loss'].data[0]) == 2
    assert isinstance(ckpt['message_hub']['runtime_info']['eta'], np.floating)


def test_runner_resumes(user_safe_globals, checkpoint, tmp_path):
    register_checkpoint_safe_globals()
    runner = build_runner(
        str(tmp_path), max_iters=4, name=f'resumed_{tmp_path.name}', resume_from=checkpoint)
    runner.train()
    assert runner.iter == 4
    # The resumed loss history continues the saved one: 2 saved + 2 new iterations.
    assert len(runner.message_hub.get_scalar('train/loss').data[0]) == 4
    assert osp.exists(osp.join(str(tmp_path), 'iter_4.pth'))


def test_message_hub_numpy_values_round_trip(user_safe_globals, tmp_path):
    register_checkpoint_safe_globals()
    hub = MessageHub(f'hub_{tmp_path.name}')
    hub.update_scalar('train/loss', 0.5)
    for value in (np.float64(1.5), np.float32(2.5), np.int64(3), np.int32(4), np.bool_(True)):
        key = f'value_{type(value).__name__}'
        hub.update_info(key, value, resumed=True)
    hub.update_info('array', np.arange(3, dtype=np.float32), resumed=True)
    path = str(tmp_path / 'hub.pth')
    torch.save(dict(message_hub=hub.state_dict()), path)

    state = torch.load(path)['message_hub']
    assert state['runtime_info']['value_float32'] == np.float32(2.5)
    assert state['runtime_info']['value_bool_'] is np.bool_(True)
    np.testing.assert_array_equal(state['runtime_info']['array'], [0, 1, 2])
    np.testing.assert_array_equal(state['log_scalars']['train/loss'].data[0], [0.5])


def test_registration_is_idempotent(user_safe_globals):
    register_checkpoint_safe_globals()
    once = torch.serialization.get_safe_globals()
    register_checkpoint_safe_globals()
    assert torch.serialization.get_safe_globals() == once
    assert all(g in once for g in checkpoint_safe_globals())
