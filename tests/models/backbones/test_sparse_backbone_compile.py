"""``torch.compile`` of the sparse backbones and of GreenMIM's ``train_step``.

What is checked: the only graph breaks of the model are the two CPU steps (the mask draw and
the sparse plan, both ``torch.compiler.disable``), a run over 50 random masks at a fixed mask
ratio compiles at most 4 graphs, and compiled results equal eager ones (fp32, < 1e-5).

The counting tests use a backend that counts the graphs dynamo hands it and runs them as
they are (what the ``eager`` backend does): tracing, graph breaks, guards and recompilations
are dynamo's and do not depend on the backend, while an inductor compile of every graph
would take minutes on a CPU. Under any backend the compiled forward uses the static-shape
plan (fixed group capacity, padded group counts), so equality there checks the padding.
One small inductor compile (forward only) checks equality with generated code.
"""
import copy

import pytest
import torch
from mmengine.logging import MessageHub
from mmengine.optim import OptimWrapper
from mmpretrain.registry import MODELS
from torch._dynamo.utils import counters

import greenmim_mm  # noqa: F401  (registers the modules)
from greenmim_mm.models.backbones import GreenMIMSVT, GreenMIMSwinTransformer
from greenmim_mm.models.utils.masking import random_unit_mask
from tests.helpers import tiny_greenmim_cfg
from tests.helpers.tiny_models import build_tiny_svt
from tests.helpers.toy_backbone import ToySparseWindowNet

IMG = 128  # a 4x4 grid of 32-px units; mask 0.75 keeps 4 units (256 stage-0 tokens)


def tiny_swin() -> GreenMIMSwinTransformer:
    """Window 4: stages 0 and 1 pack windows into several groups, with both shifts."""
    return GreenMIMSwinTransformer(
        arch=dict(embed_dims=16, depths=[2, 2, 2, 2], num_heads=[1, 1, 2, 2]),
        img_size=IMG,
        window_size=4,
        drop_path_rate=0.,
        out_indices=(3, ))


def tiny_svt() -> GreenMIMSVT:
    return build_tiny_svt(window=4)


class CountingBackend:
    """A dynamo backend that counts the graphs it is given and runs them unchanged."""

    def __init__(self):
        self.graphs = 0

    def __call__(self, graph_module, example_inputs):
        self.graphs += 1
        return graph_module.forward


@pytest.fixture
def fresh_dynamo():
    """Empty dynamo caches and counters before and after the test."""
    torch._dynamo.reset()
    counters.clear()
    yield
    torch._dynamo.reset()
    counters.clear()


def graph_break_functions() -> set:
    """The functions named by the graph breaks dynamo counted."""
    names = set()
    for reason in counters['graph_break']:
        context = [line for line in reason.splitlines() if 'debug context' in line]
        names.add(context[0].split('<function ')[-1].split(' at ')[0] if context else reason)
    return names


def outputs_and_grads(model, x, mask):
    out = model(x, mask)[-1]
    grads = torch.autograd.grad(out.square().sum(), [x, *model.parameters()], allow_unused=True)
    return out.detach(), grads


def assert_equal_to_eager(model, x, mask, out, grads):
    """Outputs within 1e-5; gradients within 1e-5 of the largest gradient (the packing
    differs, so sums run in another order)."""
    ref, ref_grads = outputs_and_grads(model, x, mask)
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-5)
    pairs = [(g, r) for g, r in zip(grads, ref_grads) if r is not None]
    scale = max(float(r.abs().max()) for _, r in pairs)
    for g, r in pairs:
        torch.testing.assert_close(g, r, rtol=0, atol=1e-5 * scale)


@pytest.mark.slow
@pytest.mark.parametrize('build, per_sample', [(tiny_swin, False), (tiny_svt, True),
                                               (ToySparseWindowNet, True)])
def test_fifty_masks_compile_a_bounded_number_of_graphs(build, per_sample, fresh_dynamo):
    torch.manual_seed(0)
    model = build()
    backend = CountingBackend()
    compiled = torch.compile(model, backend=backend)
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(2, 3, IMG, IMG, requires_grad=True)
    grid = (IMG // model.mask_unit, ) * 2
    for i in range(50):
        mask = random_unit_mask(2, grid, 0.75, per_sample=per_sample, generator=generator)
        out, grads = outputs_and_grads(compiled, x, mask)
        if i < 3:  # compiled equals eager, the padded static-shape plan included
            assert_equal_to_eager(model, x, mask, out, grads)
    assert 1 <= backend.graphs <= 4
    assert graph_break_functions() == {'SparseMIMBackboneMixin.checked_sparse_plan'}


@pytest.mark.slow
def test_train_step_under_mmengine_compile(fresh_dynamo):
    """mmengine's ``compile=True`` wraps ``model.train_step`` in ``torch.compile``."""
    cfg = tiny_greenmim_cfg(
        backbone=dict(
            arch=dict(embed_dims=16, depths=[2, 2, 2, 2], num_heads=[1, 1, 2, 2]),
            img_size=IMG,
            window_size=4),
        mask_ratio=0.75,
        mask_seed=0)
    torch.manual_seed(0)
    eager = MODELS.build(cfg)
    eager.init_weights()
    model = copy.deepcopy(eager)
    backend = CountingBackend()
    model.train_step = torch.compile(model.train_step, backend=backend)
    wrappers = [OptimWrapper(torch.optim.SGD(m.parameters(), lr=0.1)) for m in (eager, model)]
    data = dict(
        inputs=torch.randint(0, 256, (2, 3, IMG, IMG), dtype=torch.uint8), data_samples=None)
    hub = MessageHub.get_instance('test_train_step_under_mmengine_compile')
    graphs = []
    for i in range(8):
        hub.update_info('iter', i)  # a new mask every step
        losses = [float(m.train_step(data, w)['loss']) for m, w in zip((eager, model), wrappers)]
        assert losses[1] == pytest.approx(losses[0], abs=1e-5)
        graphs.append(backend.graphs)
    # The second step recompiles the decoder once (the first filled its position-embedding
    # cache); new masks compile nothing new.
    assert graphs[1] == graphs[-1] <= graphs[0] + 1, graphs
    # The CPU steps break the graph; the eager parameter update ends it.
    assert graph_break_functions() == {
        'GreenMIM._training_mask', 'SparseMIMBackboneMixin.checked_sparse_plan'
    }
    for p, q in zip(eager.parameters(), model.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)
    MessageHub.get_instance('test_train_step_under_mmengine_compile_done')


@pytest.mark.slow
def test_inductor_compiled_backbone_equals_eager(fresh_dynamo):
    """Forward only, one mask: an inductor compile of the backward too takes minutes on two
    CPU cores; gradients are compared under the counting backend above."""
    torch.manual_seed(0)
    model = tiny_swin()
    model.eval()  # mmpretrain's Swin.train() returns None: no chaining
    compiled = torch.compile(model)  # inductor, generated C++ on the CPU
    x = torch.randn(2, 3, IMG, IMG)
    mask = random_unit_mask(2, (4, 4), 0.75, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        torch.testing.assert_close(compiled(x, mask)[-1], model(x, mask)[-1], rtol=0, atol=1e-5)
