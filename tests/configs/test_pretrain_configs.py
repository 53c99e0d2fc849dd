"""Pre-training configs: every model builds, the recipe matches the paper, training runs,
the data check speaks clearly, the demo learns, and a resumed run equals an uninterrupted one."""
import copy
import glob
import json
import os.path as osp
import uuid

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.runner import Runner
from mmpretrain.registry import DATASETS, MODELS

import greenmim_mm  # noqa: F401  (registers the modules)
from greenmim_mm.compat import register_checkpoint_safe_globals
from tests.helpers import (REPO_ROOT, demo_training_losses, load_tool, weight_decay_of_parameters,
                           write_images)

SWIN_B = osp.join(REPO_ROOT, 'configs', 'greenmim_swin_b_pretrain.py')
SWIN_B_W14 = osp.join(REPO_ROOT, 'configs', 'greenmim_swin_b_w14_pretrain.py')
SWIN_L_W14 = osp.join(REPO_ROOT, 'configs', 'greenmim_swin_l_w14_pretrain.py')
DEMO = osp.join(REPO_ROOT, 'configs', 'demo', 'greenmim_demo_pretrain.py')
# Every GreenMIM pre-training config: the top-level ones (Swin and Twins, ours and the authors'
# recipes) and the demos.
ALL_CONFIGS = sorted(glob.glob(osp.join(REPO_ROOT, 'configs', '*_pretrain.py'))) + sorted(
    glob.glob(osp.join(REPO_ROOT, 'configs', 'demo', '*_pretrain.py')))


def build_model(cfg: Config):
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return MODELS.build(copy.deepcopy(cfg.model))


def demo_runner_cfg(data_root: str, work_dir: str, workers: bool = False, **overrides) -> Config:
    """The demo config on ``data_root/pretrain`` with test-sized overrides.

    ``workers=False`` loads data in the main process; True keeps the config's workers.
    """
    cfg = Config.fromfile(DEMO)
    cfg.work_dir = work_dir
    cfg.experiment_name = f'test_{uuid.uuid4().hex}'  # one visualizer/logger per runner
    cfg.train_dataloader.dataset.data_root = data_root
    if not workers:
        cfg.train_dataloader.num_workers = 0
        cfg.train_dataloader.persistent_workers = False
    cfg.log_level = 'WARNING'
    cfg.merge_from_dict(overrides)
    return cfg


@pytest.mark.parametrize('path', ALL_CONFIGS, ids=osp.basename)
def test_every_config_builds(path):
    cfg = Config.fromfile(path)
    assert cfg.custom_imports == dict(imports=['greenmim_mm'], allow_failed_imports=False)
    model = build_model(cfg)
    assert type(model).__name__ == 'GreenMIM'
    assert model.mask_ratio == 0.75 and model.mask_unit == 32 and not model.per_sample_mask
    backbone = model.backbone
    swin = hasattr(backbone, 'num_features')  # else Twins
    final_dims = backbone.num_features[-1] if swin else backbone.embed_dims[-1]
    assert model.neck.decoder_embed.in_features == final_dims
    assert model.neck.decoder_pred.out_features == 32 * 32 * 3
    assert len(model.neck.decoder_blocks) == 1
    assert model.head.norm_pix and type(model.head.loss_module).__name__ == \
        'PixelReconstructionLoss'
    if not swin:
        return
    window = backbone.stages[0].blocks[0].attn.window_size
    if 'w14' in path:
        last = backbone.stages[-1].blocks[0].attn.window_size
        if 'official' in path:  # the authors shrink the window to the 7x7 last stage
            assert window == 14 and last == 7
        else:
            assert window == 14 and last == 14 and cfg.model.backbone.pad_small_map
    else:
        assert window == 7


def test_architectures():
    b, l_ = (build_model(Config.fromfile(p)).backbone for p in (SWIN_B, SWIN_L_W14))
    assert (b.embed_dims, b.depths, b.num_heads) == (128, [2, 2, 18, 2], [4, 8, 16, 32])
    assert (l_.embed_dims, l_.depths, l_.num_heads) == (192, [2, 2, 18, 2], [6, 12, 24, 48])
    demo = build_model(Config.fromfile(DEMO)).backbone
    assert (demo.embed_dims, demo.depths) == (48, [2, 2, 2, 2])
    assert demo.stages[0].blocks[0].attn.window_size == 7  # as the demo Mask R-CNN backbone


def test_swin_b_recipe():
    cfg = Config.fromfile(SWIN_B)
    opt = cfg.optim_wrapper.optimizer
    assert opt.type == 'AdamW' and opt.betas == (0.9, 0.95) and opt.weight_decay == 0.05
    assert opt.fused  # the AdamW step was 40% of a CPU step at batch 2 unfused
    total_batch = cfg.auto_scale_lr.base_batch_size
    assert opt.lr == pytest.approx(1.5e-4 * total_batch / 256)
    warmup, cosine = cfg.param_scheduler
    assert (warmup.type, warmup.begin, warmup.end, warmup.by_epoch) == ('LinearLR', 0, 40, True)
    assert (cosine.type, cosine.begin, cosine.end) == ('CosineAnnealingLR', 40, 200)
    assert warmup.convert_to_iter_based and cosine.convert_to_iter_based
    assert cfg.train_cfg == dict(type='EpochBasedTrainLoop', max_epochs=200)
    ckpt = cfg.default_hooks.checkpoint
    assert (ckpt.type, ckpt.interval, ckpt.max_keep_ckpts,
            ckpt.save_last) == ('AtomicCheckpointHook', 10, 3, True)
    assert cfg.model.backbone.drop_path_rate == 0.0
    steps = {t['type']: t for t in cfg.train_dataloader.dataset.pipeline}
    rrc = steps['RandomResizedCrop']
    assert (rrc.scale, rrc.crop_ratio_range, rrc.interpolation) == (224, (0.2, 1.0), 'bicubic')
    assert steps['RandomFlip'].prob == 0.5 and 'PackInputs' in steps
    assert steps['SafeLoadImageFromFile'].on_error == 'raise'  # bad images name themselves
    assert cfg.model.data_preprocessor.type == 'SelfSupDataPreprocessor'
    assert cfg.train_dataloader.dataset.data_root.rstrip('/') == 'data/imagenet'
    assert cfg.train_dataloader.dataset.data_prefix == 'train'


def test_optimizer_groups_skip_decay_on_norms_biases_and_tables():
    cfg = Config.fromfile(DEMO)
    model = build_model(cfg)
    decay = weight_decay_of_parameters(cfg, model)
    for name, param in model.named_parameters():
        no_decay = (
            name.endswith('.bias') or 'norm' in name or '.ln' in name or 'mask_token' in name
            or 'relative_position_bias_table' in name)
        assert decay[id(param)] == (0.0 if no_decay else 0.05), name


@pytest.mark.slow
def test_swin_b_fwd_bwd_224_batch2():
    """One forward/backward of the Swin-B config at 224 px, batch 2 (~10-20 s on 2 cores)."""
    model = build_model(Config.fromfile(SWIN_B))
    model.init_weights()
    torch.manual_seed(0)
    loss = model.loss(torch.randn(2, 3, 224, 224), [])['loss']
    loss.backward()
    assert torch.isfinite(loss) and 0.5 < loss.item() < 5
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)


def test_missing_data_says_where_it_looked(tmp_path, mmpretrain_scope):
    cfg = Config.fromfile(SWIN_B)
    dataset_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    dataset_cfg.data_root = str(tmp_path / 'imagenet')
    with pytest.raises(FileNotFoundError) as err:
        DATASETS.build(dataset_cfg)
    text = str(err.value)
    assert 'the image folder does not exist' in text
    assert str(tmp_path / 'imagenet' / 'train') in text
    assert 'Expected' in text and 'ImageNet' in text and 'data_root' in text

    (tmp_path / 'imagenet' / 'train' / 'n000').mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match='found no image files'):
        DATASETS.build(dataset_cfg)

    write_images(str(tmp_path / 'imagenet' / 'train' / 'n000'), 3)
    assert len(DATASETS.build(dataset_cfg)) == 3

    ann = tmp_path / 'imagenet' / 'train.txt'
    ann.write_text('n000/0000.jpg 0\nn000/0002.jpg 7\n')
    dataset = DATASETS.build(dict(dataset_cfg, ann_file=str(ann)))
    names = [osp.basename(dataset.get_data_info(i)['img_path']) for i in range(len(dataset))]
    assert names == ['0000.jpg', '0002.jpg']


def test_train_tool_reports_missing_data(tmp_path):
    """``tools/train.py`` on the Swin-B config without data fails with the layout message."""
    train = load_tool('train')
    with pytest.raises(FileNotFoundError, match=r'Looked in: .*data/imagenet/train'):
        train.main([
            SWIN_B, '--work-dir',
            str(tmp_path / 'work'), '--cfg-options',
            f'train_dataloader.dataset.data_root={tmp_path}/data/imagenet',
            'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False'
        ])


@pytest.mark.slow
def test_train_tool_starts_swin_b_training(tmp_path, restore_determinism):
    """With data present, ``tools/train.py configs/greenmim_swin_b_pretrain.py`` trains."""
    write_images(str(tmp_path / 'imagenet' / 'train' / 'n01440764'), 2, size=96)
    train = load_tool('train')
    work = tmp_path / 'work'
    train.main([
        SWIN_B, '--work-dir',
        str(work), '--cfg-options', f'train_dataloader.dataset.data_root={tmp_path}/imagenet',
        'train_dataloader.batch_size=2', 'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False', 'train_cfg.max_epochs=1',
        'default_hooks.logger.interval=1'
    ])
    ckpt = torch.load(work / 'epoch_1.pth', map_location='cpu', weights_only=False)
    assert ckpt['meta']['epoch'] == 1 and ckpt['meta']['iter'] == 1  # 2 images, batch 2
    assert set(ckpt['state_dict']) == set(build_model(Config.fromfile(SWIN_B)).state_dict())
    scalars = next(work.rglob('scalars.json')).read_text().splitlines()
    losses = [json.loads(line)['loss'] for line in scalars if '"loss"' in line]
    assert len(losses) == 1 and np.isfinite(losses[0])


def test_train_tool_amp_on_cpu(tmp_path, restore_determinism):
    """``tools/train.py --amp`` trains the demo under bfloat16 autocast on CPU."""
    write_images(str(tmp_path / 'demo' / 'pretrain'), 4)
    work = tmp_path / 'work'
    load_tool('train').main([
        DEMO, '--work-dir',
        str(work), '--amp', '--cfg-options', f'train_dataloader.dataset.data_root={tmp_path}/demo',
        'train_dataloader.batch_size=2', 'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False', 'train_cfg.max_iters=2',
        'default_hooks.logger.interval=1'
    ])
    dumped = Config.fromfile(str(work / 'greenmim_demo_pretrain.py'))
    if not torch.cuda.is_available():
        assert dumped.optim_wrapper.type == 'NonFiniteSkipCpuAmpOptimWrapper'
    scalars = next(work.rglob('scalars.json')).read_text().splitlines()
    losses = [json.loads(line)['loss'] for line in scalars if '"loss"' in line]
    assert len(losses) == 2 and all(np.isfinite(losses))
    assert (work / 'iter_2.pth').exists()


@pytest.mark.slow
def test_demo_loss_falls(tmp_path, restore_determinism):
    """The demo recipe learns: at half its batch (8), over its first 40 iterations the loss
    drops clearly (seen: first 10 iterations 1.047 on average, last 10 0.671)."""
    losses = demo_training_losses(DEMO, str(tmp_path), batch_size=8, max_iters=40)
    assert len(losses) == 40
    first, last = np.mean(losses[:10]), np.mean(losses[-10:])
    assert last < 0.85 * first, (first, last)


def _final_state(runner: Runner) -> dict:
    return {k: v.clone() for k, v in runner.model.state_dict().items()}


@pytest.mark.slow
def test_resume_equals_uninterrupted_run(tmp_path, restore_determinism):
    """Train 4 iterations straight vs 2, stop, resume for 2 more: identical weights.

    With the demo's data workers, so their augmentation streams are covered too.
    """
    write_images(str(tmp_path / 'demo' / 'pretrain'), 24)
    data_root = str(tmp_path / 'demo')
    small = {
        'workers': True,
        'train_dataloader.batch_size': 2,
        'default_hooks.checkpoint.interval': 2,
        'default_hooks.logger.interval': 1,
        'custom_hooks': [],
    }
    register_checkpoint_safe_globals()

    cfg = demo_runner_cfg(data_root, str(tmp_path / 'straight'), **small)
    cfg.train_cfg.max_iters = 4
    straight = Runner.from_cfg(cfg)
    straight.train()
    expected = _final_state(straight)

    cfg = demo_runner_cfg(data_root, str(tmp_path / 'split'), **small)
    cfg.train_cfg.max_iters = 2
    Runner.from_cfg(cfg).train()
    assert osp.exists(tmp_path / 'split' / 'iter_2.pth')

    cfg = demo_runner_cfg(data_root, str(tmp_path / 'split'), **small)
    cfg.train_cfg.max_iters = 4
    cfg.resume = True
    cfg.load_from = str(tmp_path / 'split' / 'iter_2.pth')
    resumed = Runner.from_cfg(cfg)
    resumed.train()
    assert resumed.iter == 4
    got = _final_state(resumed)
    assert got.keys() == expected.keys()
    differing = [k for k in expected if not torch.equal(expected[k], got[k])]
    assert not differing, differing[:5]
    # and the steps did change the weights
    start = torch.load(tmp_path / 'split' / 'iter_2.pth', map_location='cpu')['state_dict']
    assert any(not torch.equal(start[k], got[k]) for k in got)
