"""close_distributed / exit_finished_rank: how the tools end a gloo run (compat.gloo_exit)."""
import os
import subprocess
import sys
import textwrap

import pytest
import torch.distributed as torch_dist

from greenmim_mm.compat import gloo_exit
from greenmim_mm.compat.gloo_exit import close_distributed, exit_finished_rank
from tests.helpers import free_port


def test_close_distributed_destroys_the_group_and_is_idempotent(monkeypatch):
    # The flag it sets would make exit_finished_rank end this pytest process: restore it.
    monkeypatch.setattr(gloo_exit, '_destroyed_a_gloo_group', False)
    close_distributed()  # no group: nothing to do
    torch_dist.init_process_group(
        'gloo', init_method=f'tcp://127.0.0.1:{free_port()}', rank=0, world_size=1)
    assert torch_dist.is_initialized()
    close_distributed()
    assert not torch_dist.is_initialized() and gloo_exit._destroyed_a_gloo_group
    close_distributed()


def test_exit_finished_rank_is_a_no_op_without_a_group():
    assert not gloo_exit._destroyed_a_gloo_group
    exit_finished_rank()  # would end pytest here if it exited


@pytest.mark.slow
def test_exit_finished_rank_flushes_and_exits_zero(tmp_path):
    # stdout to a pipe is block-buffered: the line only arrives if the exit flushed it, and
    # the code after exit_finished_rank must not run. A data loader worker left running
    # would hold the pipe open: subprocess.run would then time out.
    script = tmp_path / 'rank.py'
    script.write_text(
        textwrap.dedent('''
        import logging, sys
        import numpy
        import torch
        import torch.distributed as torch_dist
        from greenmim_mm.compat.gloo_exit import close_distributed, exit_finished_rank
        torch_dist.init_process_group('gloo', init_method='tcp://127.0.0.1:%d', rank=0,
                                      world_size=1)
        model = torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(2, 2))
        # A live worker with batches prefetched. Numpy arrays (as in mmdet's samples) are
        # pickled through the worker's pipe, unlike tensors: 2 MB batches fill it.
        items = [numpy.zeros(2 ** 18, numpy.float32)] * 16
        loader = torch.utils.data.DataLoader(
            items, batch_size=2, num_workers=1, persistent_workers=True, collate_fn=list)
        next(iter(loader))
        model(torch.ones(1, 2)).sum().backward()
        print('work done')
        logging.getLogger('rank').addHandler(logging.FileHandler(sys.argv[1]))
        logging.getLogger('rank').warning('logged')
        close_distributed()
        exit_finished_rank()
        print('not reached')
        sys.exit(3)
    ''' % free_port()))
    log = tmp_path / 'rank.log'
    proc = subprocess.run([sys.executable, str(script), str(log)],
                          stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT,
                          text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stdout
    assert 'work done' in proc.stdout and 'not reached' not in proc.stdout
    assert log.read_text().strip() == 'logged'


@pytest.mark.slow
def test_upstream_gloo_threads_still_outlive_the_group(tmp_path):
    """The behaviour the workaround exists for: after a DDP step on a gloo group,
    ``destroy_process_group`` (and garbage collection) leaves gloo's native threads running
    until exit-time destructors tear them down. The day they end with the group, this fails:
    delete greenmim_mm/compat/gloo_exit.py's ``os._exit``."""
    script = tmp_path / 'threads.py'
    script.write_text(
        textwrap.dedent('''
        import gc, os
        import torch
        import torch.distributed as torch_dist
        def threads():
            return len(os.listdir('/proc/self/task'))
        torch.set_num_threads(1)
        torch.ones(4).sum()
        before = threads()
        torch_dist.init_process_group('gloo', init_method='tcp://127.0.0.1:%d', rank=0,
                                      world_size=1)
        model = torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(2, 2))
        model(torch.ones(1, 2)).sum().backward()
        del model
        torch_dist.destroy_process_group()
        gc.collect()
        print('threads', before, threads())
    ''' % free_port()))
    proc = subprocess.run([sys.executable, str(script)],
                          capture_output=True,
                          text=True,
                          timeout=120,
                          env=dict(os.environ, OMP_NUM_THREADS='1'))
    assert proc.returncode == 0, proc.stderr[-3000:]
    before, after = map(int, proc.stdout.split('threads')[1].split())
    assert after > before, (before, after)
