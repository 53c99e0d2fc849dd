"""greenmim_mm.experiments.probe: checkpoints load strictly into the probe model, features of
every stage are pooled, and the scikit-learn probes choose C on val."""
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmpretrain.registry import MODELS

from greenmim_mm.experiments.probe import (build_probe_model, extract_features, fit_probes,
                                           load_probe_config, split_loader)
from tests.helpers import REPO_ROOT, write_labeled_folder

PROBE = osp.join(REPO_ROOT, 'configs/pretrain_gain/swin-nano_32px_probe.py')


def pretrain_checkpoint(tmp_path, name: str) -> tuple:
    """A randomly initialized pre-training model of a gain config, saved as mmengine does."""
    cfg = Config.fromfile(osp.join(REPO_ROOT, f'configs/pretrain_gain/{name}.py'))
    torch.manual_seed(1)
    model = MODELS.build(cfg.model)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_()
    path = str(tmp_path / f'{name}.pth')
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), path)
    return model, path


@pytest.mark.parametrize('name',
                         ['greenmim_swin-nano_32px_pretrain', 'simmim_swin-nano_32px_pretrain'])
def test_checkpoint_backbone_loads_strictly(tmp_path, name, mmpretrain_scope):
    model, path = pretrain_checkpoint(tmp_path, name)
    probe = build_probe_model(load_probe_config(PROBE), path)
    theirs = model.backbone.state_dict()
    for key, value in probe.backbone.state_dict().items():
        if key in ('norm0.weight', 'norm1.weight'):  # stages the pre-training did not output
            assert key not in theirs and torch.equal(value, torch.ones_like(value))
        elif key in ('norm0.bias', 'norm1.bias'):
            assert key not in theirs and torch.equal(value, torch.zeros_like(value))
        else:
            assert torch.equal(value, theirs[key]), key
    assert not probe.training


def test_a_checkpoint_without_a_backbone_is_refused(tmp_path):
    path = str(tmp_path / 'x.pth')
    torch.save(dict(state_dict={'head.w': torch.zeros(1)}), path)
    with pytest.raises(RuntimeError, match='no backbone'):
        build_probe_model(load_probe_config(PROBE), path)


def test_random_init_is_seeded():
    cfg = load_probe_config(PROBE)
    a, b, c = (build_probe_model(cfg, None, seed) for seed in (0, 0, 1))
    w = 'stages.0.blocks.0.attn.w_msa.qkv.weight'
    assert torch.equal(a.backbone.state_dict()[w], b.backbone.state_dict()[w])
    assert not torch.equal(a.backbone.state_dict()[w], c.backbone.state_dict()[w])


def test_features_of_every_stage_from_images_of_any_size(tmp_path):
    root = write_labeled_folder(str(tmp_path))  # 40 x 30 images: resized and cropped to 32 x 32
    cfg = load_probe_config(PROBE, root)
    x, y = extract_features(build_probe_model(cfg, None), split_loader(cfg, root, 'train'))
    assert x.shape == (4, 48 + 96 + 192) and np.isfinite(x).all()
    assert sorted(y.tolist()) == [0, 0, 1, 1]


def test_probes_choose_C_on_val():
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(3, 20)) * 3

    def split(n):
        y = np.arange(n) % 3
        return centers[y] + rng.normal(size=(n, 20)), y

    features = dict(train=split(30), val=split(60), test=split(60))
    out = fit_probes(features, C_grid=[1e-4, 1.0], knn_k=5)
    assert set(out['val_by_C']) == {'0.0001', '1.0'}
    # the best val accuracy; on a tie the strongest regularization
    best = max(out['val_by_C'], key=lambda c: (out['val_by_C'][c], -float(c)))
    assert out['lr']['C'] == float(best)
    assert out['lr']['test'] > 0.9 and out['knn']['test'] > 0.5
    assert fit_probes(features, [1.0], knn_k=50)['knn']['k'] == 30  # at most the train set
