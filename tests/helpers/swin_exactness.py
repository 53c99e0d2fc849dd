"""The tiny GreenMIM Swin of the exactness tests, and the check of its sparse forward against
the dense reference of ``swin_reference.py`` (outputs and every parameter gradient)."""
import torch

from greenmim_mm.models.backbones import GreenMIMSwinTransformer
from tests.helpers.swin_reference import reference_forward

TINY = dict(embed_dims=16, depths=[2, 2, 2, 2], num_heads=[1, 2, 2, 4])


def build(window_size=7, img_size=224, seed=0, **kwargs) -> GreenMIMSwinTransformer:
    """A tiny 4-stage GreenMIM Swin in eval mode, with large relative position tables."""
    torch.manual_seed(seed)
    model = GreenMIMSwinTransformer(
        arch=TINY,
        img_size=img_size,
        window_size=window_size,
        drop_path_rate=0.,
        out_indices=(0, 1, 2, 3),
        **kwargs)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if 'relative_position_bias_table' in name:
                p.normal_(0, 1.)  # non-zero, large: a leaking mask would show
    model.eval()  # SwinTransformer.train() returns None, so no chaining
    return model


def check_exact(model, x, mask, atol=1e-4):
    """Outputs and parameter gradients of sparse and reference forwards agree."""
    weights = None
    grads = []
    outs_all = []
    for fn in (lambda: model(x, mask), lambda: reference_forward(model, x, mask)):
        model.zero_grad()
        outs = fn()
        if weights is None:
            g = torch.Generator().manual_seed(1)
            weights = [torch.randn(o.shape, generator=g).to(o.device) for o in outs]
        loss = sum((o * w).sum() for o, w in zip(outs, weights))
        loss.backward()
        grads.append({n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None})
        outs_all.append([o.detach() for o in outs])
    for sparse, dense in zip(*outs_all):
        assert sparse.shape == dense.shape
        assert (sparse - dense).abs().max() < atol
    assert grads[0].keys() == grads[1].keys()
    for name in grads[0]:
        diff = (grads[0][name] - grads[1][name]).abs().max()
        scale = grads[1][name].abs().max().clamp(min=1.)
        assert diff / scale < atol, f'gradient of {name} differs by {diff}'
    return max((s - d).abs().max().item() for s, d in zip(*outs_all))
