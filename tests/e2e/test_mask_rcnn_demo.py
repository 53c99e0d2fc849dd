"""End to end, through the command-line tools, on a tiny copy of the demo data.

``make demo`` in miniature: generate data -> GreenMIM pretraining (2 iterations) ->
tools/model_converters/convert_checkpoint.py -> Mask R-CNN fine-tuning (10 iterations) ->
tools/test.py with ``--show-dir``; the COCO bbox and segm APs must come out finite. Plus:
tools/test.py on the COCO config without data/coco stops with the expected layout.
"""
import os
import os.path as osp
import re
import sys

import pytest

from tests.helpers import REPO_ROOT, run_tool

PRETRAIN_CFG = osp.join(REPO_ROOT, 'configs/demo/greenmim_demo_pretrain.py')
DET_CFG = osp.join(REPO_ROOT, 'configs/demo/mask-rcnn_greenmim_demo.py')


def run(*args, cwd=REPO_ROOT, timeout=900, check=True) -> str:
    """A Python script or ``-c`` code of the demo, through the suite's runner."""
    return run_tool([sys.executable, *args], cwd, timeout, check, PYTHONWARNINGS='ignore').stdout


def write_config(path, base, body):
    path.write_text(f'_base_ = [{base!r}]\n' + body)
    return path


@pytest.mark.slow
def test_pretrain_convert_finetune_test(tmp_path):
    from greenmim_mm.datasets import demo_data
    data = tmp_path / 'demo'
    # in this process (the generator's CLI has its own tests); the rest runs through the tools
    demo_data.main([
        '--out',
        str(data), '--seed', '1', '--num-train', '6', '--num-val', '4', '--num-pretrain', '0'
    ])
    work = tmp_path / 'work'

    pretrain_cfg = write_config(
        tmp_path / 'pretrain.py', PRETRAIN_CFG, f'''
train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False,
                        dataset=dict(data_root={str(data)!r}))
train_cfg = dict(max_iters=2)
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=2))
custom_hooks = []
''')
    run(osp.join(REPO_ROOT, 'tools/train.py'), pretrain_cfg, '--work-dir', work / 'pretrain')
    pretrained = (work / 'pretrain' / 'last_checkpoint').read_text().strip()
    assert pretrained.endswith('iter_2.pth')

    backbone = work / 'backbone.pth'
    log = run(
        osp.join(REPO_ROOT, 'tools/model_converters/convert_checkpoint.py'), pretrained, backbone,
        '--config', DET_CFG)
    assert 'missing keys: none' in log and 'unexpected keys: none' in log

    det_cfg = write_config(
        tmp_path / 'det.py', DET_CFG, f'''
data_root = {str(data) + '/'!r}
train_dataloader = dict(num_workers=0, persistent_workers=False,
                        dataset=dict(data_root=data_root))
val_dataloader = dict(num_workers=0, persistent_workers=False, dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val.json')
test_evaluator = val_evaluator
model = dict(backbone=dict(init_cfg=dict(checkpoint={str(backbone)!r})))
train_cfg = dict(max_iters=10, val_interval=10)
param_scheduler = [dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=5)]
default_hooks = dict(logger=dict(interval=5), checkpoint=dict(interval=10))
''')
    log = run(
        osp.join(REPO_ROOT, 'tools/train.py'), det_cfg, '--work-dir', work / 'det', '--no-validate')
    assert f'load backbone. in model from: {backbone}' in log
    ckpt = work / 'det' / 'iter_10.pth'
    assert ckpt.exists()

    log = run(
        osp.join(REPO_ROOT, 'tools/test.py'), det_cfg, ckpt, '--work-dir', work / 'det',
        '--show-dir', 'vis')
    assert 'Average Precision' in log  # pycocotools' tables
    metrics = dict(re.findall(r'coco/(\w+): (-?[0-9.]+)', log))
    for name in ('bbox_mAP', 'bbox_mAP_50', 'segm_mAP', 'segm_mAP_50'):
        assert 0. <= float(metrics[name]) <= 1., (name, metrics)
    pictures = [f for _, _, files in os.walk(work / 'det') for f in files if f.endswith('.jpg')]
    assert len(pictures) == 4


@pytest.mark.slow
def test_test_without_coco_names_the_layout(tmp_path):
    # From an empty working directory, data/coco does not exist; the error comes before the
    # checkpoint (which does not exist either) is read.
    config = osp.join(REPO_ROOT, 'configs/mask_rcnn/mask-rcnn_greenmim-swin-b_fpn_1x_coco.py')
    log = run(
        osp.join(REPO_ROOT, 'tools/test.py'),
        config,
        'missing.pth',
        '--work-dir',
        tmp_path,
        cwd=tmp_path,
        check=False)
    assert 'FileNotFoundError' in log
    assert 'missing annotation file data/coco/annotations/instances_val2017.json' in log
    assert 'Expected COCO 2017 under data/coco/' in log
