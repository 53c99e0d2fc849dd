"""Distributed training on CPU (gloo): 2 processes equal 1 process with the same total batch.

``tools/dist_train.sh CONFIG 2`` runs torchrun with mmengine's ``pytorch`` launcher; without
CUDA, ``tools/train.py`` switches to gloo. With the same seed and total batch, the two runs
see the same samples (the sampler deals a shared permutation out to the ranks), the same
batch-wise mask (drawn from the run's seed and the iteration on every rank) and, since DDP
averages the gradients, take the same steps. ``DistLossAverageHook`` (added by train.py to
distributed runs) logs the loss of the whole batch, so the logged losses compare directly.
"""
import os.path as osp
import sys

import pytest
import torch

import greenmim_mm  # noqa: F401  (registers the modules; forked ranks inherit the import)
from tests.helpers import TOOLS_DIR, free_port, run_tool, tiny_greenmim_cfg
from tests.helpers.reliability import (DEMO_DET, logged_scalars, state_dict_of,
                                       write_tiny_pretrain_config)

ITERS = 4
PER_RANK_BATCH = 2


@pytest.mark.slow
def test_two_processes_match_one_with_the_double_batch(demo_data, tmp_path):
    config = write_tiny_pretrain_config(
        str(tmp_path / 'tiny.py'),
        demo_data,
        batch_size=2 * PER_RANK_BATCH,
        max_iters=ITERS,
        ckpt_interval=ITERS)
    single, dist = str(tmp_path / 'single'), str(tmp_path / 'dist')
    run_tool([sys.executable,
              osp.join(TOOLS_DIR, 'train.py'), config, '--work-dir', single],
             cwd=str(tmp_path))
    proc = run_tool([
        osp.join(TOOLS_DIR, 'dist_train.sh'), config, '2', '--work-dir', dist, '--cfg-options',
        f'train_dataloader.batch_size={PER_RANK_BATCH}'
    ],
                    cwd=str(tmp_path),
                    PORT=str(free_port()))
    assert 'Distributed training: True' in proc.stdout
    assert "dist_cfg: {'backend': 'gloo'}" in proc.stdout

    one = [s['loss'] for s in logged_scalars(single)]
    two = [s['loss'] for s in logged_scalars(dist)]
    assert len(one) == len(two) == ITERS
    # Seen: |difference| <= 1.2e-7 (float32 sums in another order).
    assert two == pytest.approx(one, rel=1e-5, abs=1e-6)
    assert len(set(one)) == ITERS  # the weights did change between iterations

    a = state_dict_of(osp.join(single, f'iter_{ITERS}.pth'))
    b = state_dict_of(osp.join(dist, f'iter_{ITERS}.pth'))
    assert a.keys() == b.keys()
    worst = max((a[k].double() - b[k].double()).abs().max().item() for k in a)
    assert worst < 1e-5, worst  # seen: 2.4e-7


@pytest.mark.slow
def test_mask_rcnn_fine_tuning_runs_on_two_processes(demo_data, tmp_path):
    """The demo Mask R-CNN (GreenMIM Swin backbone, random init) trains 2 iterations on 2
    gloo processes and logs finite, rank-averaged losses."""
    work_dir = str(tmp_path / 'det')
    data_root = demo_data + '/'
    run_tool([
        osp.join(TOOLS_DIR, 'dist_train.sh'), DEMO_DET, '2', '--work-dir', work_dir,
        '--no-validate', '--cfg-options', 'model.backbone.init_cfg=None', f'data_root={data_root}',
        f'train_dataloader.dataset.data_root={data_root}', 'train_dataloader.batch_size=1',
        'train_dataloader.num_workers=0', 'train_cfg.max_iters=2',
        'default_hooks.logger.interval=1', 'default_hooks.checkpoint.interval=2'
    ],
             cwd=str(tmp_path),
             PORT=str(free_port()))
    assert osp.exists(osp.join(work_dir, 'iter_2.pth'))
    scalars = logged_scalars(work_dir)
    assert len(scalars) == 2
    assert all(torch.isfinite(torch.tensor(s['loss'])) for s in scalars)
    assert {'loss_rpn_cls', 'loss_cls', 'loss_bbox', 'loss_mask'} <= set(scalars[0])


def _rank_worker(rank: int, world_size: int, port: int, fn, queue) -> None:
    """One forked rank: join a gloo group, run ``fn(rank)``, send back its result."""
    torch.set_num_threads(1)  # as DataLoader workers do after a fork
    import torch.distributed as dist
    dist.init_process_group(
        'gloo', init_method=f'tcp://127.0.0.1:{port}', rank=rank, world_size=world_size)
    try:
        queue.put((rank, fn(rank)))
    except BaseException as err:  # report instead of leaving the parent waiting
        queue.put((rank, repr(err)))
    finally:
        dist.destroy_process_group()


def on_two_ranks(fn) -> dict:
    """Run ``fn(rank)`` on 2 forked gloo processes (no re-import); rank -> its result."""
    ctx = torch.multiprocessing.get_context('fork')
    queue = ctx.Queue()
    port = free_port()
    procs = [ctx.Process(target=_rank_worker, args=(rank, 2, port, fn, queue)) for rank in (0, 1)]
    for p in procs:
        p.start()
    try:
        results = dict(queue.get(timeout=120) for _ in procs)
    finally:
        for p in procs:
            p.join(timeout=30)
            if p.is_alive():
                p.kill()
    return results


def masks_seen_by_the_encoder(torch_seeds: tuple):
    """A training step's mask on each rank, gathered: ``fn`` for :func:`on_two_ranks`."""

    def fn(rank: int) -> list:
        import torch.distributed as dist
        from mmengine.logging import MessageHub
        from mmpretrain.registry import MODELS

        # mmengine's set_random_seed: seed + rank when randomness.diff_rank_seed=True.
        torch.manual_seed(torch_seeds[rank])
        MessageHub.get_instance(f'mask_probe_{rank}_{torch_seeds}').update_info('iter', 5)
        model = MODELS.build(tiny_greenmim_cfg())
        seen = []
        forward = model.backbone.forward
        model.backbone.forward = lambda x, mask=None: seen.append(mask) or forward(x, mask)
        model.loss(torch.randn(2, 3, 96, 96), [])
        mask = seen[0].to(torch.uint8)  # (2, 3, 3)
        gathered = [torch.empty_like(mask) for _ in range(2)]
        dist.all_gather(gathered, mask)
        return [g.tolist() for g in gathered]

    return fn


class RanksDisagree(AssertionError):
    """The ranks drew different batch-wise masks."""


@pytest.mark.parametrize('torch_seeds', [
    pytest.param((0, 0), id='diff_rank_seed=False'),
    pytest.param((0, 1), id='diff_rank_seed=True'),
])
def test_batch_wise_mask_is_the_same_on_every_rank(torch_seeds):
    results = on_two_ranks(masks_seen_by_the_encoder(torch_seeds))
    assert sorted(results) == [0, 1] and all(isinstance(r, list) for r in results.values()), \
        results
    masks = results[0]
    assert results[1] == masks
    if masks[0] != masks[1]:
        raise RanksDisagree(f'rank 0 masked {masks[0][0]}, rank 1 masked {masks[1][0]}')


def test_loss_average_hook_never_mismatches_collectives():
    """Same keys on both ranks: averaged. Different keys: left alone with a warning, and no
    rank waits for a collective the other never joins."""
    from greenmim_mm.engine.hooks.dist_loss_hook import DistLossAverageHook

    def fn(rank: int) -> list:
        hook = DistLossAverageHook()
        same = dict(loss=torch.tensor(1.0 + 2 * rank), acc=torch.tensor(10.0 * rank))
        hook.after_train_iter(None, 0, outputs=same)
        other = dict(loss=torch.tensor(float(rank)))
        if rank == 1:
            other['loss_extra'] = torch.tensor(5.0)
        hook.after_train_iter(None, 1, outputs=other)
        return [float(same['loss']), float(same['acc']), float(other['loss'])]

    results = on_two_ranks(fn)
    assert results == {0: [2.0, 5.0, 0.0], 1: [2.0, 5.0, 1.0]}, results
