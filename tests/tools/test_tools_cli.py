"""tools/train.py, tools/test.py and the dist scripts, run as a user runs them."""
import glob
import os
import os.path as osp
import pickle
import subprocess
import sys
from typing import List

import cv2
import numpy as np
import pytest
from mmengine.config import Config

from tests.helpers import REPO_ROOT, free_port, run_tool, tool_path

# A tiny ResNet classifier on 32x32 images in class folders: 2 iterations take well under a
# second, so the subprocess start-up (imports) dominates.
CLS_CONFIG = """
default_scope = 'mmpretrain'
custom_imports = dict(imports=['greenmim_mm'], allow_failed_imports=False)
model = dict(
    type='ImageClassifier',
    backbone=dict(type='ResNet', depth=18, stem_channels=8, base_channels=8, num_stages=2,
                  strides=(1, 2), dilations=(1, 1), out_indices=(1, )),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=2, in_channels=16,
              loss=dict(type='CrossEntropyLoss')))
data_preprocessor = dict(num_classes=2, mean=[127.5] * 3, std=[127.5] * 3, to_rgb=True)
pipeline = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=(32, 32)),
            dict(type='PackInputs')]
train_dataloader = dict(
    batch_size=2, num_workers=0,
    dataset=dict(type='CustomDataset', data_root={data_root!r}, data_prefix='train',
                 pipeline=pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True))
test_dataloader = dict(
    batch_size=4, num_workers=0,
    dataset=dict(type='CustomDataset', data_root={data_root!r}, data_prefix='test',
                 pipeline=pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False))
test_evaluator = dict(type='Accuracy', topk=(1, ))
test_cfg = dict()
train_cfg = dict(type='IterBasedTrainLoop', max_iters=2)
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.01, momentum=0.9))
param_scheduler = [dict(type='LinearLR', start_factor=0.5, by_epoch=False, begin=0, end=4)]
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=1),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', interval=2, by_epoch=False),
    sampler_seed=dict(type='DistSamplerSeedHook'))
log_processor = dict(by_epoch=False)
env_cfg = dict(cudnn_benchmark=False, mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
               dist_cfg=dict(backend='nccl'))
randomness = dict(seed=0)
"""

# A tiny Mask R-CNN (ResNet-18 at 1/8 width, FPN 16) on a generated 64-pixel shapes set,
# inheriting mmdet's own bases: train.py and test.py on an mmdet-scope config.
DET_CONFIG = """
_base_ = [
    'mmdet::_base_/models/mask-rcnn_r50_fpn.py', 'mmdet::_base_/datasets/coco_instance.py',
    'mmdet::_base_/default_runtime.py'
]
custom_imports = dict(imports=['greenmim_mm'], allow_failed_imports=False)
data_root = {data_root!r}
metainfo = dict(classes=('circle', 'rectangle', 'triangle', 'ellipse'))
model = dict(
    backbone=dict(depth=18, base_channels=8, init_cfg=None),
    neck=dict(in_channels=[8, 16, 32, 64], out_channels=16),
    rpn_head=dict(in_channels=16, feat_channels=16),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=16),
        bbox_head=dict(in_channels=16, fc_out_channels=32, num_classes=4),
        mask_roi_extractor=dict(out_channels=16),
        mask_head=dict(in_channels=16, conv_out_channels=16, num_classes=4)),
    train_cfg=dict(rpn=dict(sampler=dict(num=64)), rcnn=dict(sampler=dict(num=32))),
    test_cfg=dict(rpn=dict(nms_pre=200, max_per_img=100), rcnn=dict(max_per_img=20)))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', scale=(64, 64), keep_ratio=True),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(64, 64), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'))
]
train_dataloader = dict(
    num_workers=0,
    dataset=dict(data_root=data_root, metainfo=metainfo,
                 ann_file='annotations/instances_train.json', data_prefix=dict(img='train/'),
                 pipeline=train_pipeline))
val_dataloader = dict(
    num_workers=0,
    dataset=dict(data_root=data_root, metainfo=metainfo,
                 ann_file='annotations/instances_val.json', data_prefix=dict(img='val/'),
                 pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + '/annotations/instances_val.json')
test_evaluator = val_evaluator
train_cfg = dict(type='IterBasedTrainLoop', max_iters=2, val_interval=100)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-3))
default_hooks = dict(logger=dict(interval=1),
                     checkpoint=dict(interval=2, by_epoch=False))
log_processor = dict(by_epoch=False)
"""


def run(args: List[str], cwd: str, timeout: int = 180, **env: str) -> subprocess.CompletedProcess:
    """:func:`run_tool` with this module's default timeout; fails on a non-zero exit."""
    return run_tool(args, cwd, timeout=timeout, **env)


def tool(name: str) -> str:
    """Absolute path of a script in tools/ (``'train.py'``, ``'make_demo_data.py'``, ...)."""
    return tool_path(name.rsplit('.', 1)[0])


@pytest.fixture(scope='module')
def cls_config(tmp_path_factory) -> str:
    """A classification config and its data (two classes of 4 coloured images each)."""
    root = tmp_path_factory.mktemp('cls')
    rng = np.random.default_rng(0)
    for split in ('train', 'test'):
        for label, colour in enumerate(((0, 0, 200), (200, 0, 0))):
            folder = root / 'data' / split / f'class_{label}'
            folder.mkdir(parents=True)
            for i in range(4):
                image = np.clip(rng.normal(colour, 40, (32, 32, 3)), 0, 255).astype(np.uint8)
                cv2.imwrite(str(folder / f'{i}.png'), image)
    config = root / 'tiny_cls.py'
    config.write_text(CLS_CONFIG.format(data_root=str(root / 'data')))
    return str(config)


@pytest.fixture(scope='module')
def trained(cls_config, tmp_path_factory) -> str:
    """Work dir of a 2-iteration training run started outside the checkout."""
    work_dir = str(tmp_path_factory.mktemp('work'))
    run([sys.executable, tool('train.py'), cls_config, '--work-dir', work_dir], cwd=work_dir)
    return work_dir


# The arguments each script's usage line names (mmpretrain's and mmdet's CLI for train/test).
HELP_ARGUMENTS = {
    'train.py': ('--work-dir', '--resume', '--amp', '--no-validate', '--auto-scale-lr',
                 '--cfg-options', '--launcher', '--local_rank', 'config'),
    'test.py': ('--work-dir', '--out', '--show-dir', '--cfg-options', '--launcher', '--local_rank',
                'config', 'checkpoint'),
    'make_demo_data.py':
    ('--out', '--seed', '--num-train', '--num-val', '--num-pretrain', '--size'),
}


@pytest.mark.parametrize('script', list(HELP_ARGUMENTS))
def test_help(script):
    out = run([sys.executable, tool(script), '--help'], cwd=REPO_ROOT).stdout
    usage = out.split('\n\n')[0]
    assert usage.startswith(f'usage: {script} [-h]'), out[:300]
    missing = [
        arg for arg in HELP_ARGUMENTS[script] if arg not in usage.split() and f'[{arg}' not in usage
    ]
    assert not missing, (missing, usage)


@pytest.mark.parametrize('script, arguments',
                         [('dist_train.sh', 'CONFIG NGPUS [train.py args...]'),
                          ('dist_test.sh', 'CONFIG CHECKPOINT NGPUS [test.py args...]')])
def test_dist_scripts_are_executable(script, arguments):
    assert os.access(tool(script), os.X_OK)
    proc = subprocess.run([tool(script)],
                          stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT,
                          text=True)
    assert proc.returncode == 2
    assert proc.stdout == f'usage: {tool(script)} {arguments}\n'


@pytest.mark.slow
def test_train_saves_checkpoint(trained):
    assert osp.exists(osp.join(trained, 'iter_2.pth'))
    assert open(osp.join(trained, 'last_checkpoint')).read().strip().endswith('iter_2.pth')


@pytest.mark.slow
def test_test_prints_metrics_and_dumps(cls_config, trained, tmp_path):
    out_file = str(tmp_path / 'preds.pkl')
    proc = run([
        sys.executable,
        tool('test.py'), cls_config,
        osp.join(trained, 'iter_2.pth'), '--work-dir',
        str(tmp_path), '--out', out_file, '--show-dir',
        str(tmp_path / 'vis')
    ],
               cwd=str(tmp_path))
    assert 'accuracy/top1' in proc.stdout
    assert '--show-dir is ignored' in proc.stdout  # no visualization hook in this config
    with open(out_file, 'rb') as f:
        assert len(pickle.load(f)) == 8


@pytest.mark.slow
def test_resume_continues_training(cls_config, trained):
    proc = run([
        sys.executable,
        tool('train.py'), cls_config, '--work-dir', trained, '--resume',
        osp.join(trained, 'iter_2.pth'), '--cfg-options', 'train_cfg.max_iters=4'
    ],
               cwd=trained)
    assert 'resumed epoch: 0, iter: 2' in proc.stdout
    assert 'Iter(train) [4/4]' in proc.stdout
    assert osp.exists(osp.join(trained, 'iter_4.pth'))


@pytest.mark.slow
def test_amp_on_cpu_trains(cls_config, tmp_path):
    proc = run([sys.executable,
                tool('train.py'), cls_config, '--work-dir',
                str(tmp_path), '--amp'],
               cwd=str(tmp_path))
    assert 'CpuAmpOptimWrapper' in Config.fromfile(osp.join(tmp_path,
                                                            'tiny_cls.py')).optim_wrapper.type
    assert 'Iter(train) [2/2]' in proc.stdout


@pytest.mark.slow
def test_dist_train_and_test_on_cpu(cls_config, tmp_path):
    work_dir = str(tmp_path)
    proc = run([tool('dist_train.sh'), cls_config, '2', '--work-dir', work_dir],
               cwd=work_dir,
               timeout=300,
               PYTHON=sys.executable,
               PORT=str(free_port()))
    assert osp.exists(osp.join(work_dir, 'iter_2.pth'))
    assert "dist_cfg: {'backend': 'gloo'}" in proc.stdout
    assert 'Distributed training: True' in proc.stdout
    proc = run([
        tool('dist_test.sh'), cls_config,
        osp.join(work_dir, 'iter_2.pth'), '2', '--work-dir', work_dir
    ],
               cwd=work_dir,
               timeout=300,
               PYTHON=sys.executable,
               PORT=str(free_port()))
    assert 'accuracy/top1' in proc.stdout


@pytest.mark.slow
def test_slurm_launcher_on_cpu(cls_config, tmp_path):
    """Two processes started as srun starts them (SLURM_* variables), without CUDA."""
    work_dir = str(tmp_path)
    port = str(free_port())
    procs = []
    for rank in range(2):
        env = dict(
            os.environ,
            OMP_NUM_THREADS='1',
            SLURM_PROCID=str(rank),
            SLURM_NTASKS='2',
            SLURM_LOCALID=str(rank),
            SLURM_NODELIST='localhost',
            MASTER_ADDR='127.0.0.1',
            MASTER_PORT=port)
        procs.append(
            subprocess.Popen([
                sys.executable,
                tool('train.py'), cls_config, '--launcher', 'slurm', '--work-dir', work_dir
            ],
                             cwd=work_dir,
                             env=env,
                             stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT,
                             text=True))
    outs = [p.communicate(timeout=300)[0] for p in procs]
    for p, out in zip(procs, outs):
        assert p.returncode == 0, out[-4000:]
    assert 'Distributed training: True' in outs[0]
    assert osp.exists(osp.join(work_dir, 'iter_2.pth'))


@pytest.mark.slow
def test_mmdet_train_and_test(make_demo_data, tmp_path):
    data_root = str(tmp_path / 'demo')
    make_demo_data.main([
        '--out', data_root, '--num-train', '4', '--num-val', '2', '--num-pretrain', '0', '--size',
        '64'
    ])
    config = tmp_path / 'tiny_mask_rcnn.py'
    config.write_text(DET_CONFIG.format(data_root=data_root))
    work_dir = str(tmp_path / 'work')
    run([sys.executable,
         tool('train.py'),
         str(config), '--work-dir', work_dir, '--no-validate'],
        cwd=str(tmp_path))
    checkpoint = osp.join(work_dir, 'iter_2.pth')
    assert osp.exists(checkpoint)

    out_file = str(tmp_path / 'preds.pkl')
    proc = run([
        sys.executable,
        tool('test.py'),
        str(config), checkpoint, '--work-dir', work_dir, '--out', out_file, '--show-dir', 'vis'
    ],
               cwd=str(tmp_path))
    assert 'Evaluating bbox' in proc.stdout and 'Evaluating segm' in proc.stdout
    with open(out_file, 'rb') as f:
        predictions = pickle.load(f)
    assert len(predictions) == 2 and 'gt_instances' not in predictions[0]
    assert len(glob.glob(osp.join(work_dir, '*', 'vis', '*.jpg'))) == 2


class TestMergeArgs:
    """Config changes made by train.py's and test.py's flags, checked without running."""

    @pytest.fixture(scope='class')
    def train_script(self):
        from greenmim_mm.cli import train as training
        return training

    @pytest.fixture(scope='class')
    def eval_script(self):
        from greenmim_mm.cli import test as testing
        return testing

    def merged(self, module, cls_config, *argv: str) -> Config:
        args = module.parse_args([cls_config, *argv])
        return module.merge_args(Config.fromfile(cls_config), args)

    def test_defaults(self, train_script, cls_config):
        cfg = self.merged(train_script, cls_config)
        assert cfg.work_dir == osp.join('./work_dirs', 'tiny_cls')
        assert cfg.launcher == 'none' and not cfg.get('resume', False)
        assert cfg.train_dataloader.collate_fn == dict(type='default_collate')
        assert cfg.train_dataloader.persistent_workers is False  # num_workers=0

    def test_amp_resume_and_no_validate(self, train_script, cls_config):
        cfg = self.merged(train_script, cls_config, '--amp', '--resume', '--no-validate')
        assert cfg.optim_wrapper.type == 'NonFiniteSkipCpuAmpOptimWrapper'
        assert cfg.optim_wrapper.dtype == 'bfloat16' and 'loss_scale' not in cfg.optim_wrapper
        assert cfg.resume is True and cfg.load_from is None
        assert cfg.val_dataloader is None

    def test_amp_on_cpu_warns_without_native_bf16(self, train_script, cls_config, monkeypatch):
        from greenmim_mm.cli import train as training
        assert training.cpu_bf16_is_native() in (True, False)  # torch still answers
        for native, warned in ((False, True), (True, False), (None, False)):
            logged = []
            monkeypatch.setattr(training, 'cpu_bf16_is_native', lambda: native)
            monkeypatch.setattr(training, 'print_log', lambda msg, **kw: logged.append(msg))
            train_script.enable_amp(Config.fromfile(cls_config), cuda=False)
            assert any('no native bfloat16' in msg for msg in logged) == warned

    def test_amp_on_gpu(self, train_script, cls_config):
        cfg = Config.fromfile(cls_config)
        train_script.enable_amp(cfg, cuda=True)
        assert cfg.optim_wrapper.type == 'NonFiniteSkipAmpOptimWrapper'
        assert cfg.optim_wrapper.loss_scale == 'dynamic'

    def test_auto_scale_lr_needs_base_batch_size(self, train_script, cls_config):
        with pytest.raises(RuntimeError, match='base_batch_size'):
            self.merged(train_script, cls_config, '--auto-scale-lr')

    @pytest.mark.parametrize('tool', ['train_script', 'eval_script'])
    def test_cfg_options_are_merged_last(self, tool, request, cls_config):
        """As in mmpretrain's tools: --cfg-options wins over the flags."""
        module = request.getfixturevalue(tool)
        argv = ['ckpt.pth'] if tool == 'eval_script' else ['--amp']
        cfg = self.merged(module, cls_config, *argv, '--work-dir', 'a', '--cfg-options',
                          'work_dir=b', 'optim_wrapper.type=OptimWrapper')
        assert cfg.work_dir == 'b'
        assert cfg.optim_wrapper.type == 'OptimWrapper'

    def test_no_persistent_workers_without_workers_after_cfg_options(self, train_script,
                                                                     cls_config):
        cfg = self.merged(train_script, cls_config, '--cfg-options',
                          'train_dataloader.num_workers=2',
                          'train_dataloader.persistent_workers=True')
        assert cfg.train_dataloader.persistent_workers is True
        cfg = self.merged(train_script, cls_config, '--cfg-options',
                          'train_dataloader.num_workers=0',
                          'train_dataloader.persistent_workers=True')
        assert cfg.train_dataloader.persistent_workers is False

    def test_mmdet_scope_keeps_pseudo_collate(self, train_script, cls_config):
        cfg = Config.fromfile(cls_config)
        cfg.default_scope = 'mmdet'
        cfg = train_script.merge_args(cfg, train_script.parse_args([cls_config]))
        assert 'collate_fn' not in cfg.train_dataloader

    def test_test_py_show_dir_for_mmdet(self, eval_script, cls_config):
        cfg = Config.fromfile(cls_config)
        cfg.default_scope = 'mmdet'
        cfg.default_hooks.visualization = dict(type='DetVisualizationHook')
        assert eval_script.enable_visualization(cfg, 'vis')
        assert cfg.default_hooks.visualization.draw is True
        assert cfg.default_hooks.visualization.test_out_dir == 'vis'

    def test_test_py_rejects_non_pickle_out(self, eval_script, cls_config):
        with pytest.raises(SystemExit):
            eval_script.parse_args([cls_config, 'ckpt.pth', '--out', 'preds.json'])
