"""The exactness checks on a GPU (skipped without CUDA; CI has none)."""
import pytest
import torch

from tests.helpers import random_mask
from tests.helpers.swin_exactness import build, check_exact

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA device')


@pytest.fixture(autouse=True)
def no_tf32():
    # TF32 matmuls (10-bit mantissa) would differ from the reference by more than 1e-4.
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


@pytest.mark.parametrize('per_sample', [False, True])
@pytest.mark.parametrize('img', [224, 320])
def test_exact_on_cuda(per_sample, img):
    model = build(7, 224).cuda()
    x = torch.randn(2, 3, img, img, device='cuda')
    mask = random_mask(2, img // 32, img // 32, 0.75, per_sample, seed=7).cuda()
    check_exact(model, x, mask)


def test_train_step_under_fp16_autocast_is_finite():
    model = build(7, 224).cuda()
    model.train()
    x = torch.randn(2, 3, 224, 224, device='cuda')
    mask = random_mask(2, 7, 7, 0.75, False, seed=8).cuda()
    with torch.autocast('cuda', dtype=torch.float16):
        out = model(x, mask)
    loss = sum(o.float().square().mean() for o in out)
    loss.backward()
    assert torch.isfinite(loss)
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
