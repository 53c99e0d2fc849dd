"""Errors of the sparse encoder and of the dense reference under autocast, against float64.

Both run the same weights and inputs under the same autocast; the truth is the dense
reference in float64 (which equals the sparse encoder in float64 to ~1e-15). Errors are
``max |a - truth| / max |truth|`` per stage output and per parameter gradient.
"""
import contextlib
import copy
from typing import Callable, Dict, List, Optional, Tuple

import torch

from tests.helpers.swin_reference import reference_forward


def sparse_forward(model, x, mask):
    return model(x, mask)


def outputs_and_grads(model, x: torch.Tensor, mask: torch.Tensor, forward: Callable,
                      dtype: Optional[torch.dtype],
                      weights: List[torch.Tensor]) -> Tuple[List[torch.Tensor], Dict]:
    """Stage outputs and parameter gradients (float64 copies) of ``sum_i <out_i, w_i>``,
    the forward under ``dtype`` autocast (None: none), backward outside it."""
    model.zero_grad()
    ctx = (
        torch.autocast(x.device.type, dtype=dtype)
        if dtype is not None else contextlib.nullcontext())
    with ctx:
        outs = forward(model, x, mask)
    loss = sum((o.to(w.dtype) * w).sum() for o, w in zip(outs, weights))
    loss.backward()
    grads = {n: p.grad.double() for n, p in model.named_parameters() if p.grad is not None}
    return [o.detach().double() for o in outs], grads


def rel_err(a: torch.Tensor, truth: torch.Tensor) -> float:
    return float((a - truth).abs().max() / truth.abs().max().clamp(min=1e-30))


def autocast_errors(model, x: torch.Tensor, mask: torch.Tensor, dtype: torch.dtype) -> Dict:
    """{'out': [(sparse, dense) per stage], 'grad': {name: (sparse, dense)}} relative errors
    against float64, and the outputs' dtypes under autocast (sparse, dense)."""
    model64 = copy.deepcopy(model).double()
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        shapes = [o.shape for o in sparse_forward(model64, x.double(), mask)]
    weights = [torch.randn(s, generator=gen, dtype=torch.float64).to(x.device) for s in shapes]
    truth_out, truth_grad = outputs_and_grads(model64, x.double(), mask, reference_forward, None,
                                              weights)
    results = {}
    for name, forward in (('sparse', sparse_forward), ('dense', reference_forward)):
        results[name] = outputs_and_grads(model, x, mask, forward, dtype,
                                          [w.float() for w in weights])
    with torch.autocast(x.device.type, dtype=dtype), torch.no_grad():
        dtypes = ([o.dtype for o in sparse_forward(model, x, mask)],
                  [o.dtype for o in reference_forward(model, x, mask)])
    out = [(rel_err(s, t), rel_err(d, t))
           for s, d, t in zip(results['sparse'][0], results['dense'][0], truth_out)]
    assert truth_grad.keys() == results['sparse'][1].keys() == results['dense'][1].keys()
    grad = {
        n: (rel_err(results['sparse'][1][n], t), rel_err(results['dense'][1][n], t))
        for n, t in truth_grad.items()
    }
    return dict(out=out, grad=grad, dtypes=dtypes)
