"""GreenMIM decoder: shapes, token placement, sin-cos positions for any grid, gradients."""
import pytest
import torch
from mmpretrain.models.utils import build_2d_sincos_position_embedding

from greenmim_mm.models.necks import GreenMIMPretrainDecoder, sincos_pos_embed_2d
from greenmim_mm.models.utils.masking import random_unit_mask


def small_decoder(**kwargs) -> GreenMIMPretrainDecoder:
    cfg = dict(
        patch_size=4,
        in_chans=3,
        embed_dim=24,
        decoder_embed_dim=16,
        decoder_depth=1,
        decoder_num_heads=2)
    cfg.update(kwargs)
    decoder = GreenMIMPretrainDecoder(**cfg)
    decoder.init_weights()
    return decoder


def test_square_pos_embed_equals_mmpretrain():
    for size in (1, 2, 7):
        ours = sincos_pos_embed_2d((size, size), 32)
        assert torch.equal(ours, build_2d_sincos_position_embedding(size, 32))


def test_pos_embed_is_row_major_and_grid_independent():
    """Unit (r, c) gets the same vector on a 2x3 grid, a 3x2 grid and a 5x5 grid."""
    big = sincos_pos_embed_2d((5, 5), 16)[0].view(5, 5, 16)
    for hu, wu in [(2, 3), (3, 2), (1, 4)]:
        small = sincos_pos_embed_2d((hu, wu), 16)[0].view(hu, wu, 16)
        assert torch.equal(small, big[:hu, :wu])


@pytest.mark.parametrize('grid', [(7, 7), (2, 3), (3, 1)])
def test_output_shape(grid):
    decoder = small_decoder()
    mask = random_unit_mask(2, grid, 0.5, per_sample=True)
    num_vis = int((~mask[0]).sum())
    out = decoder(torch.randn(2, num_vis, 24), mask)
    assert out.shape == (2, grid[0] * grid[1], 4 * 4 * 3)


def test_tokens_land_on_their_units():
    """Before the blocks: visible unit k holds the k-th visible token, the rest the mask token."""
    decoder = small_decoder(embed_dim=16, decoder_depth=0)
    with torch.no_grad():
        decoder.decoder_embed.weight.copy_(torch.eye(16))
        decoder.decoder_embed.bias.zero_()
    captured = {}
    decoder.decoder_norm.register_forward_pre_hook(lambda m, args: captured.update(x=args[0]))
    mask = torch.tensor([[[True, False, True], [False, True, False]],
                         [[False, True, True], [True, False, False]]])  # 3 visible each
    x = torch.randn(2, 3, 16)
    decoder(x, mask)
    pos = sincos_pos_embed_2d((2, 3), 16)[0]  # (6, 16)
    expected = decoder.mask_token[0].expand(2, 6, 16).clone()
    expected[0, [1, 3, 5]] = x[0]
    expected[1, [0, 4, 5]] = x[1]
    torch.testing.assert_close(captured['x'], expected + pos)


def test_batch_wise_equals_per_sample_decoding():
    """Decoding a batch equals decoding each sample alone (no cross-sample mixing)."""
    decoder = small_decoder().eval()
    mask = random_unit_mask(3, (3, 3), 0.6, per_sample=True)
    x = torch.randn(3, int((~mask[0]).sum()), 24)
    out = decoder(x, mask)
    for i in range(3):
        torch.testing.assert_close(out[i:i + 1], decoder(x[i:i + 1], mask[i:i + 1]))


def test_gradients_reach_mask_token_and_inputs():
    decoder = small_decoder()
    mask = random_unit_mask(2, (3, 3), 0.5)
    x = torch.randn(2, int((~mask[0]).sum()), 24, requires_grad=True)
    decoder(x, mask).square().mean().backward()
    assert decoder.mask_token.grad.abs().sum() > 0
    assert x.grad.abs().sum() > 0
    assert all(p.grad is not None for p in decoder.parameters())


def test_default_is_the_papers_decoder():
    decoder = GreenMIMPretrainDecoder()
    assert len(decoder.decoder_blocks) == 1
    assert decoder.decoder_embed.in_features == 1024
    assert decoder.decoder_embed.out_features == 512
    assert decoder.decoder_blocks[0].attn.num_heads == 16
    assert decoder.decoder_pred.out_features == 32 * 32 * 3
    # the position table is not a parameter/buffer, so checkpoints stay grid-agnostic
    assert not any('pos' in k for k in decoder.state_dict())


def test_errors():
    decoder = small_decoder()
    mask = random_unit_mask(2, (3, 3), 0.5)
    with pytest.raises(ValueError, match='visible units'):
        decoder(torch.randn(2, 7, 24), mask)
    with pytest.raises(ValueError, match='divisible by 4'):
        GreenMIMPretrainDecoder(decoder_embed_dim=30)


def test_bf16_autocast():
    decoder = small_decoder()
    mask = random_unit_mask(2, (7, 7), 0.75)
    x = torch.randn(2, 12, 24)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = decoder(x, mask)
    assert out.dtype == torch.bfloat16 and torch.isfinite(out.float()).all()


def test_cpu_autocast_attention_runs_the_math_kernel():
    """Under CPU autocast the decoder's attention avoids the CPU flash kernel (slow backward
    at its sizes); in float32 torch's own choice stands. Same values as flash, up to bf16."""
    decoder = small_decoder()
    mask = random_unit_mask(2, (3, 3), 0.6, generator=torch.Generator().manual_seed(0))
    x = torch.randn(2, int((~mask[0]).sum()), 24)

    def kernels(autocast: bool):
        with torch.profiler.profile() as prof:
            with torch.autocast('cpu', dtype=torch.bfloat16, enabled=autocast):
                out = decoder(x, mask)
            out.float().sum().backward()
        names = {e.name for e in prof.events()}
        return out, {n for n in names if 'scaled_dot_product' in n}

    bf16, bf16_kernels = kernels(True)
    fp32, fp32_kernels = kernels(False)
    assert bf16.dtype == torch.bfloat16
    assert not any('flash' in n for n in bf16_kernels) and bf16_kernels
    assert any('flash' in n for n in fp32_kernels)  # torch's choice for float32 on CPU
    assert (bf16.float() - fp32).abs().max() < 0.05 * fp32.abs().max()
