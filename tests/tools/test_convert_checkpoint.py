"""tools/model_converters/convert_checkpoint.py and greenmim_mm.models.utils.ckpt_convert.

The oracle for the authors' layout is a small dense Swin written here in the original
(Microsoft) layout: its own key names, position-major patch merging in the order
(0,0), (1,0), (0,1), (1,1), windows shrunk to small maps, LayerNorm eps 1e-6. A checkpoint of it,
wrapped like an authors' release (``model`` with ``encoder.*`` and decoder keys, an ``args``
namespace), is converted by the CLI and loaded into mmpretrain's ``SwinTransformer`` and our
``GreenMIMSwinTransformer``: both must compute the same features on the same input.
"""
import argparse
import os.path as osp
from collections import OrderedDict

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn.bricks.transformer import PatchMerging
from mmpretrain.models import SwinTransformer
from mmpretrain.models.utils.attention import WindowMSA

from greenmim_mm.models.backbones import GreenMIMSwinTransformer
from greenmim_mm.models.utils.ckpt_convert import (add_output_norms, convert_official_swin,
                                                   detect_format, infer_swin_arch,
                                                   merge_mmcv_to_swin, merge_swin_to_mmcv,
                                                   resize_relative_position_table, set_window_sizes,
                                                   unwrap_state_dict)
from greenmim_mm.models.utils.sparse import window_relative_position_index
from tests.helpers import REPO_ROOT, load_tool, randomize_weights

EPS = 1e-6


def load_cli():
    return load_tool('convert_checkpoint')


# --------------------------------------------------------------- reference: Microsoft layout


def ms_window_partition(x, ws):
    """(B, H, W, C) -> (B * nW, ws * ws, C)."""
    B, H, W, C = x.shape
    x = x.view(B, H // ws, ws, W // ws, ws, C).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, ws * ws, C)


def ms_window_reverse(windows, ws, B, H, W):
    """(B * nW, ws * ws, C) -> (B, H, W, C)."""
    C = windows.shape[-1]
    x = windows.view(B, H // ws, W // ws, ws, ws, C).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(B, H, W, C)


class RefAttention(nn.Module):

    def __init__(self, dim, ws, heads):
        super().__init__()
        self.ws, self.heads = ws, heads
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * ws - 1)**2, heads))
        # index written out loop by loop, independently of the converter's vectorised one
        index = torch.zeros(ws * ws, ws * ws, dtype=torch.long)
        for q in range(ws * ws):
            for k in range(ws * ws):
                dh = q // ws - k // ws
                dw = q % ws - k % ws
                index[q, k] = (dh + ws - 1) * (2 * ws - 1) + (dw + ws - 1)
        self.register_buffer('relative_position_index', index)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x, mask):
        Bw, N, C = x.shape
        qkv = self.qkv(x).view(Bw, N, 3, self.heads, C // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]  # (Bw, nH, N, d)
        attn = (q * (C // self.heads)**-0.5) @ k.transpose(-2, -1)  # (Bw, nH, N, N)
        bias = self.relative_position_bias_table[self.relative_position_index.view(-1)]
        attn = attn + bias.view(N, N, self.heads).permute(2, 0, 1)
        if mask is not None:  # (nW, N, N)
            nW = mask.shape[0]
            attn = attn.view(Bw // nW, nW, self.heads, N, N) + mask[None, :, None]
            attn = attn.view(Bw, self.heads, N, N)
        out = attn.softmax(-1) @ v  # (Bw, nH, N, d)
        return self.proj(out.transpose(1, 2).reshape(Bw, N, C))


class RefMlp(nn.Module):

    def __init__(self, dim):
        super().__init__()
        self.fc1 = nn.Linear(dim, 4 * dim)
        self.fc2 = nn.Linear(4 * dim, dim)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))


class RefBlock(nn.Module):

    def __init__(self, dim, heads, resolution, ws, shift):
        super().__init__()
        if resolution <= ws:  # the original Swin: one window over a small map, no shift
            ws, shift = resolution, 0
        self.ws, self.shift = ws, shift
        self.norm1 = nn.LayerNorm(dim, eps=EPS)
        self.attn = RefAttention(dim, ws, heads)
        self.norm2 = nn.LayerNorm(dim, eps=EPS)
        self.mlp = RefMlp(dim)
        if shift:
            region = torch.zeros(resolution, resolution)
            cuts = (slice(0, -ws), slice(-ws, -shift), slice(-shift, None))
            for i, (h, w) in enumerate((h, w) for h in cuts for w in cuts):
                region[h, w] = i
            labels = ms_window_partition(region[None, :, :, None], ws)[..., 0]  # (nW, N)
            attn_mask = (labels[:, :, None] != labels[:, None, :]).float() * -100.
            self.register_buffer('attn_mask', attn_mask)  # persistent, as in the original
        else:
            self.attn_mask = None

    def forward(self, x, H, W):
        B, L, C = x.shape
        shortcut = x
        x = self.norm1(x).view(B, H, W, C)
        if self.shift:
            x = torch.roll(x, (-self.shift, -self.shift), (1, 2))
        x = self.attn(ms_window_partition(x, self.ws), self.attn_mask)
        x = ms_window_reverse(x, self.ws, B, H, W)
        if self.shift:
            x = torch.roll(x, (self.shift, self.shift), (1, 2))
        x = shortcut + x.reshape(B, L, C)
        return x + self.mlp(self.norm2(x))


class RefMerging(nn.Module):

    def __init__(self, dim, order='swin'):
        super().__init__()
        self.order = order
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)
        self.norm = nn.LayerNorm(4 * dim, eps=EPS)

    def forward(self, x, H, W):
        B, L, C = x.shape
        x = x.view(B, H, W, C)
        if self.order == 'swin':  # (row, col) = (0,0), (1,0), (0,1), (1,1), position-major
            parts = [x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]]
        else:  # (0,0), (0,1), (1,0), (1,1): the authors' sparse merge before their fix
            parts = [x[:, 0::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 0::2], x[:, 1::2, 1::2]]
        x = torch.cat(parts, -1)  # (B, H/2, W/2, 4C)
        return self.reduction(self.norm(x.view(B, -1, 4 * C)))


class RefLayer(nn.Module):

    def __init__(self, dim, depth, heads, resolution, ws, downsample):
        super().__init__()
        self.blocks = nn.ModuleList(
            RefBlock(dim, heads, resolution, ws, 0 if j % 2 == 0 else ws // 2)
            for j in range(depth))
        self.downsample = RefMerging(dim) if downsample else None


class RefPatchEmbed(nn.Module):

    def __init__(self, dim, patch):
        super().__init__()
        self.proj = nn.Conv2d(3, dim, patch, patch)
        self.norm = nn.LayerNorm(dim, eps=EPS)


class RefSwin(nn.Module):
    """Dense Swin in the original layout; returns the normed last stage (B, C, H, W)."""

    def __init__(self, img=224, patch=4, dim=16, depths=(2, 2, 2, 2), heads=(1, 2, 2, 4), ws=7):
        super().__init__()
        self.patch_embed = RefPatchEmbed(dim, patch)
        res = img // patch
        self.layers = nn.ModuleList()
        for i, (depth, nh) in enumerate(zip(depths, heads)):
            self.layers.append(
                RefLayer(dim * 2**i, depth, nh, res // 2**i, ws, i < len(depths) - 1))
        self.norm = nn.LayerNorm(dim * 2**(len(depths) - 1), eps=EPS)

    def forward(self, img):
        x = self.patch_embed.proj(img)  # (B, C, H, W)
        B, C, H, W = x.shape
        x = self.patch_embed.norm(x.flatten(2).transpose(1, 2))  # (B, H*W, C)
        for layer in self.layers:
            for block in layer.blocks:
                x = block(x, H, W)
            if layer.downsample is not None:
                x = layer.downsample(x, H, W)
                H, W = H // 2, W // 2
        x = self.norm(x)
        return x.transpose(1, 2).reshape(B, -1, H, W)


def authors_checkpoint(ref: RefSwin) -> dict:
    """Wrap an encoder like the authors' release: model = encoder.* + decoder, plus extras."""
    model = OrderedDict(('encoder.' + k, v) for k, v in ref.state_dict().items())
    model['mask_token'] = torch.zeros(1, 1, 8)
    model['decoder_embed.weight'] = torch.zeros(8, 128)
    model['decoder_pos_embed'] = torch.zeros(1, 49, 8)
    model['decoder_blocks.0.attn.qkv.weight'] = torch.zeros(24, 8)
    model['decoder_norm.weight'] = torch.ones(8)
    model['decoder_pred.weight'] = torch.zeros(3072, 8)
    return dict(
        model=model,
        optimizer=dict(state={}, param_groups=[]),
        epoch=199,
        args=argparse.Namespace(model='green_mim_swin_base_patch4_dec512b1', lr=1e-4))


def mm_swin(cls, windows, out_indices=(3, ), pad_small_map=False, **kwargs):
    ln = dict(type='LN', eps=EPS)
    return cls(
        arch=dict(embed_dims=16, depths=[2, 2, 2, 2], num_heads=[1, 2, 2, 4]),
        window_size=windows[0],
        drop_path_rate=0.,
        out_indices=out_indices,
        pad_small_map=pad_small_map,
        norm_cfg=ln,
        stage_cfgs=[
            dict(window_size=w, block_cfgs=dict(norm_cfg=ln), downsample_cfg=dict(norm_cfg=ln))
            for w in windows
        ],
        patch_cfg=dict(norm_cfg=ln),
        **kwargs)


# --------------------------------------------------------------- unit tests of the functions


def test_merge_reorder_is_inverse():
    C = 6
    w = torch.randn(2 * C, 4 * C, dtype=torch.float64)
    n = torch.randn(4 * C, dtype=torch.float64)
    assert torch.equal(merge_mmcv_to_swin(merge_swin_to_mmcv(w)), w)
    assert torch.equal(merge_swin_to_mmcv(merge_mmcv_to_swin(n)), n)


@pytest.mark.parametrize('order', ['swin', 'row-major'])
def test_merge_reorder_matches_mmcv(order):
    C = 6
    ref = RefMerging(C, order).double()
    randomize_weights(ref)
    mm = PatchMerging(C, 2 * C, norm_cfg=dict(type='LN', eps=EPS), bias=False).double()
    mm.reduction.weight.data = merge_swin_to_mmcv(ref.reduction.weight.data, order)
    mm.norm.weight.data = merge_swin_to_mmcv(ref.norm.weight.data, order)
    mm.norm.bias.data = merge_swin_to_mmcv(ref.norm.bias.data, order)
    x = torch.randn(2, 8 * 6, C, dtype=torch.float64)
    out, hw = mm(x, (8, 6))
    assert hw == (4, 3)
    torch.testing.assert_close(out, ref(x, 8, 6), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize('ws', [1, 2, 7, 14])
def test_relative_position_index_matches_mmpretrain(ws):
    msa = WindowMSA(embed_dims=4, window_size=(ws, ws), num_heads=1)
    assert torch.equal(window_relative_position_index(ws), msa.relative_position_index)
    assert torch.equal(
        window_relative_position_index(ws),
        RefAttention(4, ws, 1).relative_position_index)


def test_resize_table():
    table = torch.randn(13 * 13, 3)
    assert resize_relative_position_table(table, 7) is table
    resized = resize_relative_position_table(table, 14)
    assert resized.shape == (27 * 27, 3)
    constant = torch.full((13 * 13, 2), 0.5)
    torch.testing.assert_close(
        resize_relative_position_table(constant, 14), torch.full((27 * 27, 2), 0.5))
    # down and up again keeps a smooth table close
    smooth = torch.linspace(0, 1, 27).repeat(27).view(27 * 27, 1)
    back = resize_relative_position_table(resize_relative_position_table(smooth, 7), 14)
    assert (back - smooth).abs().max() < 0.05


def test_unwrap_state_dict():
    w = torch.zeros(1)
    assert unwrap_state_dict(dict(meta={}, state_dict={'a': w})) == {'a': w}
    assert unwrap_state_dict(dict(model={'module.a': w}, args=None)) == {'a': w}
    assert unwrap_state_dict({'a': w}) == {'a': w}
    with pytest.raises(KeyError, match='state_dict'):
        unwrap_state_dict(dict(meta={}, weights={'a': w}))


def test_detect_format_and_unknown_keys():
    ref = RefSwin()
    assert detect_format(authors_checkpoint(ref)['model']) == 'official'
    assert detect_format(ref.state_dict()) == 'official'
    mm = mm_swin(SwinTransformer, [7] * 4)
    assert detect_format({'backbone.' + k: v for k, v in mm.state_dict().items()}) == \
        'greenmim_mm'
    bad = dict(ref.state_dict())
    bad['layers.0.blocks.0.attn.extra'] = torch.zeros(1)
    with pytest.raises(KeyError, match='attn.extra'):
        convert_official_swin(bad)


def test_infer_arch_and_output_norms():
    sd = convert_official_swin(RefSwin(ws=14).state_dict())
    arch = infer_swin_arch(sd)
    assert arch['embed_dims'] == 16 and arch['depths'] == [2, 2, 2, 2]
    assert arch['num_heads'] == [1, 2, 2, 4]
    # 224 px: stages 56, 28, 14, 7 -> the last one ran window 7 (shrunk to the map)
    assert arch['window_sizes'] == [14, 14, 14, 7]
    sd2, added = add_output_norms(sd, (0, 1, 2, 3), [16, 32, 64, 128])
    assert added == ['norm0', 'norm1', 'norm2']
    assert torch.equal(sd2['norm1.weight'], torch.ones(32)) and 'norm3.weight' in sd


# --------------------------------------------------------------- numerical equivalence


@pytest.mark.parametrize('cls', [SwinTransformer, GreenMIMSwinTransformer])
@pytest.mark.parametrize('ws', [7, 14])
def test_official_conversion_is_exact(tmp_path, capsys, cls, ws):
    torch.manual_seed(0)
    ref = randomize_weights(RefSwin(ws=ws)).double().eval()
    src, dst = tmp_path / 'authors.pth', tmp_path / 'backbone.pth'
    torch.save(authors_checkpoint(ref), src)

    # windows kept as pretrained ([7]*4 or [14, 14, 14, 7]); only the last stage is output
    assert load_cli().main([str(src), str(dst), '--out-indices', '3']) == 0
    log = capsys.readouterr().out
    assert 'missing keys: none' in log and 'unexpected keys: none' in log
    assert 'official format' in log

    windows = [ws, ws, ws, 7]
    model = mm_swin(
        cls, windows, init_cfg=dict(type='Pretrained', checkpoint=str(dst),
                                    prefix='backbone.')).double()
    model.init_weights()  # mmengine's prefix loader, as mmdet/mmpretrain configs load it
    model.eval()

    ckpt = torch.load(dst, weights_only=True)  # plain tensors and meta only
    assert ckpt['meta']['source_format'] == 'official'
    state = {k[len('backbone.'):]: v for k, v in ckpt['state_dict'].items()}
    result = model.load_state_dict(state, strict=True)  # every key, both ways
    assert not result.missing_keys and not result.unexpected_keys

    x = torch.randn(2, 3, 224, 224, dtype=torch.float64)
    with torch.no_grad():
        expected = ref(x)
        out = model(x)[0]
    assert out.shape == expected.shape == (2, 128, 7, 7)
    torch.testing.assert_close(out, expected, rtol=1e-9, atol=1e-9)


def test_official_to_detector_window(tmp_path, capsys):
    """w14 release with a window-7 last stage -> window 14 everywhere (pad_small_map)."""
    ref = randomize_weights(RefSwin(ws=14))
    src, dst = tmp_path / 'authors.pth', tmp_path / 'backbone.pth'
    torch.save(authors_checkpoint(ref), src)
    assert load_cli().main([str(src), str(dst), '--window-size', '14']) == 0
    log = capsys.readouterr().out
    assert 'window 7 -> 14' in log
    assert 'added norm0, norm1, norm2' in log
    assert 'missing keys: none' in log and 'unexpected keys: none' in log

    state = torch.load(dst, weights_only=True)['state_dict']
    model = SwinTransformer(
        arch=dict(embed_dims=16, depths=[2, 2, 2, 2], num_heads=[1, 2, 2, 4]),
        window_size=14,
        out_indices=(0, 1, 2, 3),
        pad_small_map=True)
    result = model.load_state_dict({k[len('backbone.'):]: v for k, v in state.items()})
    assert not result.missing_keys and not result.unexpected_keys
    key = 'backbone.stages.{}.blocks.1.attn.w_msa.relative_position_bias_table'
    assert state[key.format(3)].shape == (27 * 27, 4)
    # stages that already had window 14 are untouched
    assert torch.equal(state[key.format(0)],
                       ref.layers[0].blocks[1].attn.relative_position_bias_table.detach())
    assert model(torch.randn(1, 3, 160, 160))[3].shape == (1, 128, 5, 5)


def test_sets_window_and_rewrites_index():
    sd = convert_official_swin(RefSwin(ws=7).state_dict())
    sd, messages = set_window_sizes(sd, [7, 7, 7, 7])
    assert messages == []
    assert torch.equal(sd['stages.1.blocks.0.attn.w_msa.relative_position_index'],
                       window_relative_position_index(7))
    sd, messages = set_window_sizes(sd, [7, 7, 12, 12])
    assert len(messages) == 4  # two blocks in each of stages 2 and 3
    assert sd['stages.2.blocks.0.attn.w_msa.relative_position_index'].shape == (144, 144)


def test_missing_key_fails_without_writing(tmp_path, capsys):
    ref = RefSwin()
    ckpt = authors_checkpoint(ref)
    del ckpt['model']['encoder.layers.1.blocks.0.mlp.fc1.weight']
    src, dst = tmp_path / 'authors.pth', tmp_path / 'backbone.pth'
    torch.save(ckpt, src)
    assert load_cli().main([str(src), str(dst)]) == 1
    assert 'stages.1.blocks.0.ffn.layers.0.0.weight' in capsys.readouterr().out
    assert not dst.exists()


# --------------------------------------------------------------- our pretraining checkpoints


def greenmim_checkpoint(path):
    """An mmengine checkpoint of the demo GreenMIM model (backbone, decoder, head, optimizer)."""
    from mmengine.config import Config
    from mmengine.logging import HistoryBuffer
    from mmengine.registry import DefaultScope
    from mmpretrain.registry import MODELS

    import greenmim_mm  # noqa: F401
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs/demo/greenmim_demo_pretrain.py'))
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(cfg.model)
    model.init_weights()
    randomize_weights(model.backbone, seed=1)
    state = model.state_dict()
    optim = torch.optim.AdamW(model.parameters())
    torch.save(
        dict(
            meta=dict(epoch=0, iter=300, mmengine_version='0.10.7'),
            state_dict=state,
            optimizer=optim.state_dict(),
            message_hub=dict(log_scalars=dict(loss=HistoryBuffer([1.0, 0.5], [1, 1])))), path)
    return model


@pytest.mark.parametrize('backbone_type',
                         ['mmpretrain.SwinTransformer', 'mmpretrain.GreenMIMSwinTransformer'])
def test_greenmim_mm_into_mask_rcnn(tmp_path, capsys, backbone_type):
    from mmdet.registry import MODELS as DET_MODELS
    from mmengine.config import Config
    from mmengine.registry import DefaultScope
    from mmengine.runner import load_checkpoint

    src, dst = tmp_path / 'pretrain.pth', tmp_path / 'backbone.pth'
    pretrained = greenmim_checkpoint(src)
    config = osp.join(REPO_ROOT, 'configs/demo/mask-rcnn_greenmim_demo.py')
    assert load_cli().main([str(src), str(dst), '--config', config]) == 0
    log = capsys.readouterr().out
    assert 'greenmim_mm format' in log
    assert 'missing keys: none' in log and 'unexpected keys: none' in log

    ckpt = torch.load(dst, weights_only=True)
    assert all(k.startswith('backbone.') for k in ckpt['state_dict'])
    assert not any(k.startswith(('backbone.neck', 'neck.', 'head.')) for k in ckpt['state_dict'])

    cfg = Config.fromfile(config)
    cfg.model.backbone.type = backbone_type
    cfg.model.backbone.init_cfg = dict(type='Pretrained', checkpoint=str(dst), prefix='backbone.')
    with DefaultScope.overwrite_default_scope('mmdet'):
        detector = DET_MODELS.build(cfg.model)
        # and through load_from (the whole detector, non-strict): the same backbone
        fresh = DET_MODELS.build(Config.fromfile(config).model)
    detector.init_weights()
    loaded = detector.backbone.state_dict()
    for key, value in pretrained.backbone.state_dict().items():
        assert torch.equal(loaded[key], value), key
    load_checkpoint(fresh, str(dst), strict=False)
    x = torch.randn(1, 3, 192, 192)
    pretrained.backbone.eval(), detector.backbone.eval(), fresh.backbone.eval()
    with torch.no_grad():
        outs = detector.backbone(x)
        ref = fresh.backbone(x)
    assert len(outs) == 4
    torch.testing.assert_close(outs[3], ref[3])
