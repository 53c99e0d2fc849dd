"""Kill a pre-training run with SIGKILL mid-run, ``--resume`` it: the final weights equal an
uninterrupted run's.

The demo pre-training config with its random augmentation (RandomResizedCrop, flip), one
persistent data worker and the demo model, on 12 tiny images: the kill lands in the middle of
a pass over the data, after the first checkpoint. Exactness rests on mmengine restoring the
iteration, optimizer, schedulers and seed, replaying the data stream up to the checkpoint,
and on GreenMIM drawing the mask of iteration i from (seed, i).
(An in-process stop-and-resume is tests/configs/test_pretrain_configs.py::
test_resume_equals_uninterrupted_run.)
"""
import os
import os.path as osp
import signal
import subprocess
import sys
import time

import pytest
import torch

from tests.helpers import TOOLS_DIR, run_tool
from tests.helpers.reliability import (RANDOM_PIPELINE, logged_scalars, state_dict_of,
                                       write_tiny_pretrain_config)

ITERS = 12
CKPT_INTERVAL = 3


def train_cmd(config: str, work_dir: str, *extra: str) -> list:
    return [sys.executable, osp.join(TOOLS_DIR, 'train.py'), config, '--work-dir', work_dir, *extra]


def start_and_kill_after_first_checkpoint(cmd: list, work_dir: str, cwd: str) -> int:
    """Start ``cmd``, SIGKILL its process group once ``last_checkpoint`` appears.

    Returns:
        int: The run's return code (-9 when the kill landed).
    """
    env = dict(os.environ, OMP_NUM_THREADS='1')
    with open(osp.join(cwd, 'killed_run.log'), 'w') as log:
        proc = subprocess.Popen(
            cmd, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)  # its own group: workers die too
        marker = osp.join(work_dir, 'last_checkpoint')
        deadline = time.time() + 240
        try:
            while not osp.exists(marker) and proc.poll() is None and time.time() < deadline:
                time.sleep(0.02)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=60)
    return proc.returncode


@pytest.mark.slow
def test_resume_after_sigkill_equals_uninterrupted_run(demo_data, tmp_path):
    config = write_tiny_pretrain_config(
        str(tmp_path / 'tiny.py'),
        demo_data,
        pipeline=RANDOM_PIPELINE,
        batch_size=2,
        max_iters=ITERS,
        ckpt_interval=CKPT_INTERVAL,
        max_keep=2,
        num_workers=1)
    cwd = str(tmp_path)
    straight, killed = str(tmp_path / 'straight'), str(tmp_path / 'killed')

    run_tool(train_cmd(config, straight), cwd=cwd)

    code = start_and_kill_after_first_checkpoint(train_cmd(config, killed), killed, cwd)
    assert code == -signal.SIGKILL, open(osp.join(cwd, 'killed_run.log')).read()[-3000:]
    saved = sorted(f for f in os.listdir(killed) if f.endswith('.pth'))
    assert saved and f'iter_{ITERS}.pth' not in saved, saved  # killed mid-run

    proc = run_tool(train_cmd(config, killed, '--resume'), cwd=cwd)
    resumed_from = int(proc.stdout.split('resumed epoch: 0, iter: ')[1].split()[0])
    assert resumed_from % CKPT_INTERVAL == 0 and 0 < resumed_from < ITERS

    expected = state_dict_of(osp.join(straight, f'iter_{ITERS}.pth'))
    got = state_dict_of(osp.join(killed, f'iter_{ITERS}.pth'))
    assert got.keys() == expected.keys()
    differing = [k for k in expected if not torch.equal(expected[k], got[k])]
    assert not differing, differing[:5]  # bit-identical (deterministic CPU kernels)

    # The resumed run logs the uninterrupted run's losses for the iterations it ran.
    straight_losses = {s['step']: s['loss'] for s in logged_scalars(straight)}
    resumed_losses = {s['step']: s['loss'] for s in logged_scalars(killed)}
    assert sorted(resumed_losses) == list(range(resumed_from + 1, ITERS + 1))
    assert all(resumed_losses[i] == straight_losses[i] for i in resumed_losses)
