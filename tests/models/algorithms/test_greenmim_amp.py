"""The whole GreenMIM loss under bf16 autocast: as exact as with the dense reference encoder.

The truth is the loss and gradients with the dense reference encoder in float64; decoder and
head are shared, so the comparison isolates the encoder's contribution under autocast.
"""
import contextlib
import copy

import torch

from greenmim_mm.models.algorithms import GreenMIM
from tests.helpers import tiny_greenmim_cfg
from tests.helpers.amp_exactness import rel_err
from tests.helpers.swin_reference import reference_forward

FACTOR = 1.5
FLOOR = 2.0**-8


def build_tiny() -> GreenMIM:
    """The 96-px tiny GreenMIM of the tests (3x3 units, window 3, 4 units visible)."""
    from mmpretrain.registry import MODELS
    model = MODELS.build(tiny_greenmim_cfg(mask_seed=3))
    model.init_weights()
    return model


def loss_and_grads(model: GreenMIM, inputs, dtype, dense: bool):
    model.zero_grad()
    backbone = model.backbone
    if dense:
        backbone.forward = lambda x, mask=None: tuple(reference_forward(backbone, x, mask))
    ctx = (torch.autocast('cpu', dtype=dtype) if dtype is not None else contextlib.nullcontext())
    try:
        with ctx:
            loss = model.loss(inputs, [])['loss']
    finally:
        if dense:
            del backbone.forward
    loss.backward()
    grads = {n: p.grad.double() for n, p in model.named_parameters() if p.grad is not None}
    return loss.detach().double(), grads


def test_bf16_loss_and_gradients(hub_iter):  # noqa: F811
    hub_iter(5)
    model = build_tiny()
    inputs = torch.randn(2, 3, 96, 96, generator=torch.Generator().manual_seed(0))
    truth_loss, truth_grads = loss_and_grads(
        copy.deepcopy(model).double(), inputs.double(), None, dense=True)
    sparse_loss, sparse_grads = loss_and_grads(model, inputs, torch.bfloat16, dense=False)
    dense_loss, dense_grads = loss_and_grads(model, inputs, torch.bfloat16, dense=True)
    loss_err = (abs(float(sparse_loss - truth_loss)) / abs(float(truth_loss)),
                abs(float(dense_loss - truth_loss)) / abs(float(truth_loss)))
    assert loss_err[0] <= max(FACTOR * loss_err[1], FLOOR * 2.0**-2), loss_err
    assert sparse_grads.keys() == dense_grads.keys() == truth_grads.keys()
    errs = {
        n: (rel_err(sparse_grads[n], t), rel_err(dense_grads[n], t))
        for n, t in truth_grads.items()
    }
    worst = max(s for s, _ in errs.values()), max(d for _, d in errs.values())
    assert worst[0] <= FACTOR * worst[1], worst
    for name, (s, d) in errs.items():
        assert s <= max(3.0 * d, FLOOR), f'{name}: {s:.2e} vs dense {d:.2e}'
    print('loss errors (sparse, dense):', loss_err, 'worst gradient errors:', worst)
