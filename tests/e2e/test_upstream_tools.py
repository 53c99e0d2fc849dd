"""mmdet's and mmpretrain's own tools and inferencers on our configs and checkpoints.

An OpenMMLab user runs the ``tools/train.py`` / ``tools/test.py`` that mmdet and mmpretrain
ship (``<package>/.mim/tools``, what ``mim train`` runs), ``DetInferencer`` and
``init_detector``; they must work on our configs and give the same run as our tools: the hooks
come from the configs (``configs/_base_/*_runtime.py``) and ``import greenmim_mm`` (through
``custom_imports``) makes checkpoints loadable under torch's ``weights_only`` default.
"""
import importlib.util
import os
import os.path as osp
import re
import sys
import textwrap

import pytest
from mmengine.config import Config

from tests.helpers import REPO_ROOT, run_tool

PRETRAIN_CFG = osp.join(REPO_ROOT, 'configs/demo/greenmim_demo_pretrain.py')
DET_CFG = osp.join(REPO_ROOT, 'configs/demo/mask-rcnn_greenmim_demo.py')
OUR_HOOKS = ('AtomicCheckpointHook', 'CheckpointCompatibilityHook', 'DistLossAverageHook')

pytestmark = pytest.mark.slow


def upstream_tool(package: str, name: str) -> str:
    """The tool a package ships in its installed ``.mim/tools`` (not a copy of ours)."""
    root = osp.dirname(importlib.util.find_spec(package).origin)
    path = osp.join(root, '.mim', 'tools', name)
    assert osp.isfile(path), f'{package} does not ship {path}'
    return path


def run(*args, cwd, check=True, timeout=600) -> str:
    """Run a Python script outside the checkout (nothing of ours on the path but the installed
    package); return stdout and stderr merged."""
    return run_tool([sys.executable, *args], cwd, timeout, check, without=('PYTHONPATH', )).stdout


def assert_our_hooks(log: str, dumped_config: str) -> None:
    """The run registered our hooks, and the config dumped in the work dir declares them."""
    for hook in OUR_HOOKS:
        assert hook in log, f'{hook} not among the hooks the runner lists'
    cfg = Config.fromfile(dumped_config)
    assert cfg.default_hooks.checkpoint.type == 'AtomicCheckpointHook'
    assert cfg.default_hooks.checkpoint_check.type == 'CheckpointCompatibilityHook'
    assert cfg.default_hooks.dist_loss_average.type == 'DistLossAverageHook'


@pytest.fixture(scope='module')
def data(tmp_path_factory) -> str:
    from greenmim_mm.datasets import demo_data
    root = tmp_path_factory.mktemp('upstream') / 'demo'
    # in this process: the tools under test are the upstream ones, not the generator's CLI
    demo_data.main([
        '--out',
        str(root), '--seed', '2', '--num-train', '4', '--num-val', '2', '--num-pretrain', '8',
        '--size', '96'
    ])
    return str(root)


def test_mmpretrain_train_and_resume(data, tmp_path):
    config = tmp_path / 'pretrain.py'
    config.write_text(f'''_base_ = [{PRETRAIN_CFG!r}]
train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False,
                        dataset=dict(data_root={data!r}))
train_cfg = dict(max_iters=2)
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=2))
custom_hooks = []
''')
    work = tmp_path / 'work'
    train = upstream_tool('mmpretrain', 'train.py')
    log = run(train, config, '--work-dir', work, cwd=tmp_path)
    assert (work / 'iter_2.pth').exists()
    assert_our_hooks(log, str(work / 'pretrain.py'))

    log = run(
        train,
        config,
        '--work-dir',
        work,
        '--resume',
        '--cfg-options',
        'train_cfg.max_iters=3',
        cwd=tmp_path)
    assert 'resumed epoch: 0, iter: 2' in log
    assert (work / 'iter_3.pth').exists()


def test_mmdet_train_resume_test_and_inferencers(data, tmp_path):
    config = tmp_path / 'det.py'
    config.write_text(f'''_base_ = [{DET_CFG!r}]
data_root = {data + '/'!r}
train_dataloader = dict(num_workers=0, persistent_workers=False,
                        dataset=dict(data_root=data_root))
val_dataloader = dict(num_workers=0, persistent_workers=False, dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val.json')
test_evaluator = val_evaluator
model = dict(backbone=dict(init_cfg=None))
train_cfg = dict(max_iters=2, val_interval=100)
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=1))
''')
    work = tmp_path / 'work'
    train, test = upstream_tool('mmdet', 'train.py'), upstream_tool('mmdet', 'test.py')

    log = run(train, config, '--work-dir', work, cwd=tmp_path)
    assert_our_hooks(log, str(work / 'det.py'))
    # max_keep_ckpts=1: the outdated checkpoint goes once the new one is complete
    assert sorted(p.name for p in work.glob('*.pth')) == ['iter_2.pth']

    log = run(
        train,
        config,
        '--work-dir',
        work,
        '--resume',
        '--cfg-options',
        'train_cfg.max_iters=3',
        cwd=tmp_path)
    assert 'resumed epoch: 0, iter: 2' in log
    checkpoint = work / 'iter_3.pth'
    assert checkpoint.exists()

    log = run(test, config, checkpoint, '--work-dir', work, cwd=tmp_path)
    metrics = dict(re.findall(r'coco/(\w+): (-?[0-9.]+)', log))
    for name in ('bbox_mAP', 'segm_mAP'):
        assert 0. <= float(metrics[name]) <= 1., (name, metrics)

    # The checkpoint check runs under mmdet's tool too: a pretraining checkpoint is refused.
    other = tmp_path / 'other_arch.pth'
    import torch
    torch.save(dict(state_dict={'backbone.patch_embed.projection.weight': torch.zeros(1)}), other)
    log = run(test, config, other, '--work-dir', work, cwd=tmp_path, check=False)
    assert 'CheckpointMismatchError' in log and 'does not fit the model' in log

    image = osp.join(data, 'val', sorted(os.listdir(osp.join(data, 'val')))[0])
    script = textwrap.dedent(f'''
        from mmdet.apis import DetInferencer, inference_detector, init_detector
        inferencer = DetInferencer(model={str(config)!r}, weights={str(checkpoint)!r},
                                   device='cpu')
        result = inferencer({image!r}, out_dir={str(tmp_path / 'vis')!r})
        prediction = result['predictions'][0]
        print('inferencer', len(prediction['bboxes']), len(prediction['masks']))
        model = init_detector({str(config)!r}, {str(checkpoint)!r}, device='cpu')
        sample = inference_detector(model, {image!r})
        print('init_detector', len(sample.pred_instances))
    ''')
    log = run('-c', script, cwd=tmp_path)
    counts = re.search(r'inferencer (\d+) (\d+)', log)
    assert counts and counts.group(1) == counts.group(2), log[-3000:]
    assert re.search(r'init_detector \d+', log), log[-3000:]
    assert list((tmp_path / 'vis' / 'vis').glob('*.jpg'))
