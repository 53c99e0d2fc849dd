"""``tools/model_converters/convert_checkpoint.py --keep-decoder``: an authors' checkpoint -> a
full GreenMIM.

The authors' checkpoints are built from our own tiny GreenMIM, written key by key in their
layout (``tests/official_layout.py``). The converted file must load with ``strict=True`` and
give back exactly the weights it came from, and, for a mask whose shuffle lists the visible
units first in ascending order, our predicted pixels must equal the authors' decoder
computation (written independently in ``official_layout.authors_decoder_reference``).
"""
import os.path as osp

import pytest
import torch
from mmengine.registry import DefaultScope
from mmpretrain.registry import MODELS

import greenmim_mm  # noqa: F401  (registers the modules)
from greenmim_mm.models.necks import mae_sincos_pos_embed_2d, sincos_pos_embed_2d
from greenmim_mm.models.utils.ckpt_convert import convert_official_decoder, detect_pos_embed_layout
from tests.helpers import REPO_ROOT, randomize_weights
from tests.helpers.official_layout import (authors_decoder_reference, authors_state_dict,
                                           mae_pos_embed, wrap_release)

LN = dict(type='LN', eps=1e-6)
DECODER_HEADS = 4


def tiny_model_cfg(windows, pos_embed_layout='mae') -> dict:
    """A GreenMIM as the authors' releases are built, at tiny widths (224 px, 7x7 units)."""
    return dict(
        type='GreenMIM',
        mask_ratio=0.75,
        mask_unit=32,
        backbone=dict(
            type='GreenMIMSwinTransformer',
            arch=dict(embed_dims=16, depths=[2, 2, 2, 2], num_heads=[1, 2, 2, 4]),
            img_size=224,
            window_size=windows[0],
            pad_small_map=False,
            drop_path_rate=0.,
            out_indices=(3, ),
            norm_cfg=LN,
            stage_cfgs=[
                dict(window_size=w, block_cfgs=dict(norm_cfg=LN), downsample_cfg=dict(norm_cfg=LN))
                for w in windows
            ],
            patch_cfg=dict(norm_cfg=LN)),
        neck=dict(
            type='GreenMIMPretrainDecoder',
            patch_size=32,
            in_chans=3,
            embed_dim=128,
            decoder_embed_dim=32,
            decoder_depth=1,
            decoder_num_heads=DECODER_HEADS,
            norm_cfg=LN,
            pos_embed_layout=pos_embed_layout),
        head=dict(type='GreenMIMPretrainHead', norm_pix=True, patch_size=32))


def write_config(path, model_cfg: dict) -> str:
    path.write_text("custom_imports = dict(imports=['greenmim_mm'], allow_failed_imports=False)\n"
                    f'model = {model_cfg!r}\n')
    return str(path)


def build(model_cfg: dict):
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(model_cfg)
    model.init_weights()
    return model


def shuffle_for(visible_units, num_units=49, visible_sorted=True, seed=0):
    """An MAE-style ids_shuffle keeping ``visible_units`` first; its mask and ids_restore."""
    gen = torch.Generator().manual_seed(seed)
    visible = torch.tensor(sorted(visible_units))
    if not visible_sorted:
        visible = visible[torch.randperm(len(visible), generator=gen)]
    masked = torch.tensor([u for u in range(num_units) if u not in set(visible_units)])
    masked = masked[torch.randperm(len(masked), generator=gen)]
    ids_shuffle = torch.cat([visible, masked])[None]  # (1, L)
    ids_restore = torch.argsort(ids_shuffle, dim=1)  # (1, L)
    mask = torch.ones(1, num_units, dtype=torch.bool)
    mask[0, visible] = False
    return mask.view(1, 7, 7), ids_restore


def test_mae_layout_is_maes_table():
    for grid, dims in ((7, 128), (7, 512), (3, 16)):
        ours = mae_sincos_pos_embed_2d((grid, grid), dims)
        torch.testing.assert_close(ours, mae_pos_embed(grid, dims), rtol=0, atol=0)
    # the default layout is a different table: the halves (row / column) are swapped
    diff = (sincos_pos_embed_2d((7, 7), 128) - mae_pos_embed(7, 128)).abs().max()
    assert 1.9 < float(diff) <= 2.0
    assert detect_pos_embed_layout(mae_pos_embed(7, 512)) == 'mae'
    assert detect_pos_embed_layout(sincos_pos_embed_2d((7, 7), 64)) == 'mmpretrain'
    with pytest.raises(ValueError, match='no fixed sin-cos table'):
        detect_pos_embed_layout(torch.zeros(1, 49, 64))


@pytest.mark.parametrize('windows', [[7, 7, 7, 7], [14, 14, 14, 7]], ids=['w7', 'w14'])
def test_keep_decoder_round_trip_and_predictions(tmp_path, capsys, tool_module, windows):
    torch.manual_seed(0)
    cfg = tiny_model_cfg(windows)
    ours = randomize_weights(build(cfg)).eval()
    authors = authors_state_dict(ours)
    src, dst = tmp_path / 'authors.pth', tmp_path / 'full.pth'
    torch.save(wrap_release(authors), src)
    config = write_config(tmp_path / 'tiny_official_pretrain.py', cfg)

    assert tool_module('convert_checkpoint').main(
        [str(src), str(dst), '--from', 'official', '--keep-decoder', '--config', config]) == 0
    log = capsys.readouterr().out
    assert 'merge order: swin, (0,0),(1,0),(0,1),(1,1)' in log
    assert "7x7 grid in 'mae' layout" in log
    assert 'missing keys: none' in log and 'unexpected keys: none' in log

    ckpt = torch.load(dst, weights_only=True)
    assert ckpt['meta']['merge_order'] == 'swin'
    assert ckpt['meta']['decoder']['pos_embed_layout'] == 'mae'
    assert {k.split('.')[0] for k in ckpt['state_dict']} == {'backbone', 'neck'}
    fresh = build(cfg)
    result = fresh.load_state_dict(ckpt['state_dict'], strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    expected = ours.state_dict()
    for key, value in fresh.state_dict().items():
        assert torch.equal(value, expected[key]), key
    fresh.eval()

    # Predictions: the authors' decoder places the latents right only when the shuffle lists
    # the visible units first in ascending order (their encoder returns them row-major).
    x = torch.randn(2, 3, 224, 224)
    visible = [0, 3, 8, 10, 17, 20, 24, 30, 33, 41, 45, 48]
    mask, ids_restore = shuffle_for(visible)
    with torch.no_grad():
        pred = fresh.forward_masked(x, mask.expand(2, -1, -1))  # (2, 49, 3072)
        latent = fresh.backbone(x, mask.expand(2, -1, -1))[-1]  # (2, 12, 128)
        ref = authors_decoder_reference(latent, ids_restore.expand(2, -1), authors, DECODER_HEADS)
    assert pred.shape == ref.shape == (2, 49, 32 * 32 * 3)
    assert float((pred - ref).abs().max()) < 1e-4
    # any other order of the visible units puts latents at wrong units in their decoder
    _, shuffled_restore = shuffle_for(visible, visible_sorted=False, seed=1)
    with torch.no_grad():
        misplaced = authors_decoder_reference(latent, shuffled_restore.expand(2, -1), authors,
                                              DECODER_HEADS)
    assert float((pred - misplaced).abs().max()) > 0.1


def test_keep_decoder_needs_the_mae_table(tmp_path, capsys, tool_module):
    cfg = tiny_model_cfg([7] * 4)
    authors = authors_state_dict(randomize_weights(build(cfg)).eval())
    src, dst = tmp_path / 'authors.pth', tmp_path / 'full.pth'
    torch.save(wrap_release(authors), src)
    config = write_config(tmp_path / 'wrong_layout.py', tiny_model_cfg([7] * 4, 'mmpretrain'))
    assert tool_module('convert_checkpoint').main(
        [str(src), str(dst), '--keep-decoder', '--config', config]) == 1
    assert "set model.neck.pos_embed_layout='mae'" in capsys.readouterr().out
    assert not dst.exists()


def test_keep_decoder_argument_errors(tmp_path, tool_module):
    cfg = tiny_model_cfg([7] * 4)
    authors = authors_state_dict(build(cfg))
    src = tmp_path / 'authors.pth'
    torch.save(wrap_release(authors), src)
    with pytest.raises(SystemExit, match='pretraining --config'):
        tool_module('convert_checkpoint').main(
            [str(src), str(tmp_path / 'o.pth'), '--keep-decoder'])
    finetune = osp.join(REPO_ROOT, 'configs/finetune/greenmim_swin_b_in1k_ft.py')
    with pytest.raises(SystemExit, match='needs a GreenMIM pretraining config'):
        tool_module('convert_checkpoint').main(
            [str(src), str(tmp_path / 'o.pth'), '--keep-decoder', '--config', finetune])
    encoder_only = {k: v for k, v in authors.items() if k.startswith('encoder.')}
    with pytest.raises(KeyError, match='full pretraining checkpoint'):
        convert_official_decoder(encoder_only)


def test_row_major_merge_order_is_reported(tmp_path, capsys, tool_module):
    cfg = tiny_model_cfg([7] * 4)
    src, dst = tmp_path / 'authors.pth', tmp_path / 'backbone.pth'
    torch.save(wrap_release(authors_state_dict(build(cfg))), src)
    assert tool_module('convert_checkpoint').main(
        [str(src), str(dst), '--merge-order', 'row-major', '--out-indices', '3']) == 0
    log = capsys.readouterr().out
    assert 'merge order: row-major, (0,0),(0,1),(1,0),(1,1)' in log
    assert torch.load(dst, weights_only=True)['meta']['merge_order'] == 'row-major'
