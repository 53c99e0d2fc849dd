"""GreenMIM head: hand-computed losses, non-square patchify, the inverse used for pictures."""
import pytest
import torch

from greenmim_mm.models.heads import GreenMIMPretrainHead

# One 1-channel 2x4 image = two 2x2 units:
#   unit 0 = [0, 2, 4, 6]: mean 3, unbiased var (9 + 1 + 1 + 9) / 3 = 20 / 3
#   unit 1 = [1, 1, 1, 3]: mean 1.5, unbiased var (3 * 0.25 + 2.25) / 3 = 1
IMG = torch.tensor([[[[0., 2., 1., 1.], [4., 6., 1., 3.]]]])  # (1, 1, 2, 4)


def tiny_head(norm_pix: bool) -> GreenMIMPretrainHead:
    return GreenMIMPretrainHead(norm_pix=norm_pix, patch_size=2, in_channels=1)


def test_patchify_order_and_roundtrip():
    head = tiny_head(False)
    units = head.patchify(IMG)
    assert units.tolist() == [[[0., 2., 4., 6.], [1., 1., 1., 3.]]]
    assert torch.equal(head.unpatchify(units, (1, 2)), IMG)
    rgb = torch.randn(2, 3, 64, 96)
    head3 = GreenMIMPretrainHead(patch_size=32)
    assert head3.patchify(rgb).shape == (2, 6, 3072)
    assert torch.equal(head3.unpatchify(head3.patchify(rgb), (2, 3)), rgb)
    with pytest.raises(ValueError, match='multiple of the unit'):
        head3.patchify(torch.randn(1, 3, 48, 64))


def test_hand_computed_loss_raw_pixels():
    head = tiny_head(False)
    pred = torch.tensor([[[1., 1., 1., 1.], [0., 0., 0., 0.]]])
    # only unit 0 is masked: ((0-1)^2 + (2-1)^2 + (4-1)^2 + (6-1)^2) / 4 = 36 / 4
    loss = head.loss(pred, IMG, torch.tensor([[[True, False]]]))
    assert loss.item() == pytest.approx(9.0)
    # both masked: unit 1 contributes (1 + 1 + 1 + 9) / 4 = 3 -> mean (9 + 3) / 2
    loss = head.loss(pred, IMG, torch.tensor([[[True, True]]]))
    assert loss.item() == pytest.approx(6.0)


def test_hand_computed_loss_norm_pix():
    head = tiny_head(True)
    zeros = torch.zeros(1, 2, 4)
    # target of unit 0 = (x - 3) / sqrt(20/3 + 1e-6); mean square = (20 / (20/3 + 1e-6)) / 4
    expected0 = 20 / (20 / 3 + 1e-6) / 4
    loss = head.loss(zeros, IMG, torch.tensor([[[True, False]]]))
    assert loss.item() == pytest.approx(expected0, rel=1e-6)
    # unit 1: ((-.5)^2 * 3 + 1.5^2) / (1 + 1e-6) / 4 = 3 / (1 + 1e-6) / 4
    expected1 = 3 / (1 + 1e-6) / 4
    loss = head.loss(zeros, IMG, torch.tensor([[[True, True]]]))
    assert loss.item() == pytest.approx((expected0 + expected1) / 2, rel=1e-6)
    # a perfect prediction of the normalised target gives 0
    perfect = head.construct_target(IMG)
    assert head.loss(perfect, IMG, torch.tensor([[[True, True]]])).item() == pytest.approx(0)


def test_loss_ignores_visible_units_and_accepts_flat_masks():
    head = GreenMIMPretrainHead(patch_size=32)
    imgs = torch.randn(2, 3, 64, 64)
    mask = torch.tensor([[[True, False], [False, True]]] * 2)
    pred = torch.randn(2, 4, 3072)
    noisy = pred.clone()
    noisy[:, [1, 2]] += 100.  # visible units: any prediction
    assert torch.equal(head.loss(pred, imgs, mask), head.loss(noisy, imgs, mask))
    assert torch.equal(head.loss(pred, imgs, mask), head.loss(pred, imgs, mask.flatten(1)))


def test_to_pixels_inverts_the_target():
    """Predicting the normalised target exactly gives back the original pixels."""
    head = GreenMIMPretrainHead(patch_size=32, norm_pix=True)
    imgs = torch.randn(2, 3, 64, 96) * 3 + 1
    recon = head.to_pixels(head.construct_target(imgs), imgs)
    torch.testing.assert_close(recon, imgs, atol=1e-4, rtol=1e-4)
    raw = GreenMIMPretrainHead(patch_size=32, norm_pix=False)
    assert torch.equal(raw.to_pixels(raw.construct_target(imgs), imgs), imgs)


def test_loss_is_float32_under_bf16_autocast():
    head = GreenMIMPretrainHead(patch_size=32)
    imgs = torch.randn(2, 3, 64, 64)
    pred = torch.randn(2, 4, 3072, dtype=torch.bfloat16)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        loss = head.loss(pred, imgs, torch.ones(2, 2, 2, dtype=torch.bool))
    assert loss.dtype == torch.float32


def test_defaults_match_the_paper():
    head = GreenMIMPretrainHead()
    assert head.patch_size == 32 and head.norm_pix
    assert type(head.loss_module).__name__ == 'PixelReconstructionLoss'
