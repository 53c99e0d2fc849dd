"""The authors' GreenMIM code as a benchmark contender, from a local checkout.

``--authors-code PATH`` points the benchmark at a checkout of the official implementation
(https://github.com/LayneH/GreenMIM, CC-BY-NC; not part of this project and never copied
into it). Its Swin GreenMIM (``modeling/green_swin_models.py`` and
``modeling/base_green_models.py``, which need ``timm``) is built at the measured arch and
input size and trained as its ``main_pretrain.py`` does, minus the data loader: a step is

1. the same uint8 batch as ours, converted to float, RGB and normalised (what our data
   preprocessor does inside the step; their data loader does it outside);
2. ``loss = model(images, mask_ratio)[0]`` under autocast when the run uses ``--amp``
   (bf16 on CPU) -- their per-batch random mask, their grouping;
3. ``loss.backward()``;
4. ``AdamW.step()`` over their two parameter groups (timm's weight-decay split: no decay on
   1-D parameters, the relative position tables and the mask token), with ``fused=True`` as
   our config's; their loss scaler and its gradient norm are left out (bf16 needs no loss
   scaling), so the step is the model and the optimizer alone;
5. ``optimizer.zero_grad()``.

Only the Swin models are built; the checkout's ``modeling/__init__.py`` (which imports the
Twins model and with it ``spconv``) is not run. Their ``util/pos_embed.py`` uses ``np.float``,
gone since NumPy 1.24: the benchmark process defines it as ``float`` when it is missing.
"""
import importlib
import os.path as osp
import sys
import types
from typing import Optional, Tuple

import torch
from torch import nn

# what our data preprocessor normalises with (configs/_base_/models/greenmim_swin_base.py)
_MEAN = (123.675, 116.28, 103.53)
_STD = (58.395, 57.12, 57.375)


def import_authors_modeling(path: str):
    """``(green_swin_models, base_green_models)`` of the checkout at ``path``.

    Args:
        path (str): The checkout's root (it holds ``modeling/`` and ``util/``).

    Returns:
        tuple[module, module]: The two modules.
    """
    root = osp.abspath(osp.expanduser(path))
    if not osp.isfile(osp.join(root, 'modeling', 'green_swin_models.py')):
        raise SystemExit(f'--authors-code {path}: no modeling/green_swin_models.py there; give '
                         'the root of a checkout of https://github.com/LayneH/GreenMIM')
    try:
        importlib.import_module('timm')
    except ImportError:
        raise SystemExit('--authors-code: the authors\' code needs timm; pip install timm')
    if root not in sys.path:
        sys.path.insert(0, root)  # their `from util.pos_embed import ...`
    package = sys.modules.get('modeling')
    if package is None or osp.dirname(getattr(package, '__file__', '') or '') != osp.join(
            root, 'modeling'):
        # The package without its __init__ (which would import the Twins model and spconv).
        package = types.ModuleType('modeling')
        package.__path__ = [osp.join(root, 'modeling')]
        package.__file__ = osp.join(root, 'modeling', '__init__.py')
        sys.modules['modeling'] = package
        for name in list(sys.modules):
            if name.startswith('modeling.'):
                del sys.modules[name]
    import numpy as np
    if 'float' not in np.__dict__:  # their util/pos_embed.py predates NumPy 1.24
        np.float = float
    swin = importlib.import_module('modeling.green_swin_models')
    base = importlib.import_module('modeling.base_green_models')
    return swin, base


def build_authors_model(path: str, arch: Optional[str], img: int) -> nn.Module:
    """Their Swin GreenMIM (window 7, decoder 512 x 1 block, norm-pix loss) at ``arch``.

    Args:
        path (str): The checkout's root.
        arch (str, optional): The benchmark's ``--arch``: an mmpretrain Swin arch name
            ('tiny', 'small', 'base', ...) or a JSON arch (:func:`.options.arch_spec`);
            None: 'base', their Swin-B of ``green_mim_swin_base_patch4_dec512b1``.
        img (int): Input size (a multiple of 32).

    Returns:
        nn.Module: Their ``MaskedAutoencoder``.
    """
    from functools import partial

    from .options import arch_spec

    swin, base = import_authors_modeling(path)
    spec = arch_spec(arch)
    # what their encoder and their decoder are both built with
    common = dict(
        in_chans=3,
        mlp_ratio=4,
        qkv_bias=True,
        qk_scale=None,
        drop_rate=0.0,
        drop_path_rate=0.0,
        norm_layer=partial(nn.LayerNorm, eps=1e-6))
    encoder = swin.SwinTransformer(
        img_size=img,
        patch_size=4,
        embed_dim=spec['embed_dims'],
        depths=list(spec['depths']),
        num_heads=list(spec['num_heads']),
        window_size=7,
        ape=False,
        patch_norm=True,
        use_checkpoint=False,
        **common)
    return base.MaskedAutoencoder(
        encoder,
        embed_dim=spec['embed_dims'] * 8,
        patch_size=32,
        decoder_num_patches=(img // 32)**2,
        decoder_embed_dim=512,
        decoder_depth=1,
        decoder_num_heads=16,
        norm_pix_loss=True,
        **common)


def authors_param_groups(model: nn.Module, weight_decay: float) -> list:
    """Their optimizer's two groups (timm's ``param_groups_weight_decay`` with their skip
    list): no decay on 1-D parameters, relative position tables and the mask token."""
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        one_dim = param.ndim <= 1 or name.endswith('.bias')
        skip = one_dim or 'position_bias' in name or 'token' in name
        (no_decay if skip else decay).append(param)
    return [dict(params=no_decay, weight_decay=0.), dict(params=decay, weight_decay=weight_decay)]


class AuthorsOptim:
    """What the benchmark's step hands a model as its "optimizer wrapper"."""

    def __init__(self, optimizer: torch.optim.Optimizer, amp_dtype: Optional[torch.dtype],
                 device: str) -> None:
        self.optimizer = optimizer
        self.amp_dtype = amp_dtype
        self.device = device


class AuthorsContender(nn.Module):
    """Their model with a ``train_step(data, optim)`` as the benchmark steps ours.

    Args:
        model (nn.Module): Their ``MaskedAutoencoder``.
        mask_ratio (float): The mask ratio of their forward.
    """

    def __init__(self, model: nn.Module, mask_ratio: float) -> None:
        super().__init__()
        self.model = model
        self.mask_ratio = mask_ratio
        self.register_buffer('mean', torch.tensor(_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer('std', torch.tensor(_STD).view(1, 3, 1, 1), persistent=False)

    def train_step(self, data: dict, optim: AuthorsOptim) -> dict:
        """One step (see the module docstring); ``{'loss': loss}``."""
        # (B, 3, H, W) uint8 BGR as our preprocessor gets it -> float RGB, normalised
        images = data['inputs'].to(self.mean.device).flip(1).float()
        images = (images - self.mean) / self.std
        with torch.autocast(
                optim.device,
                dtype=optim.amp_dtype or torch.float32,
                enabled=optim.amp_dtype is not None):
            loss = self.model(images, mask_ratio=self.mask_ratio)[0]
        loss.backward()
        optim.optimizer.step()
        optim.optimizer.zero_grad()
        return dict(loss=loss.detach())


def build_authors_contender(path: str, arch: Optional[str], img: int, ratio: float, device: str,
                            amp_dtype: Optional[str], lr: float,
                            weight_decay: float) -> Tuple[AuthorsContender, AuthorsOptim]:
    """(contender, optim) in training mode on ``device``.

    Args:
        path (str): The checkout's root.
        arch (str, optional): Swin arch (see :func:`build_authors_model`).
        img (int): Input size.
        ratio (float): Mask ratio.
        device (str): 'cpu' or 'cuda'.
        amp_dtype (str, optional): Autocast dtype, None for float32.
        lr (float): AdamW's learning rate (our config's).
        weight_decay (float): AdamW's weight decay (our config's).

    Returns:
        tuple: The contender and its optimizer holder.
    """
    model = AuthorsContender(build_authors_model(path, arch, img), ratio).to(device)
    model.train()
    optimizer = torch.optim.AdamW(
        authors_param_groups(model.model, weight_decay), lr=lr, betas=(0.9, 0.95), fused=True)
    dtype = getattr(torch, amp_dtype) if amp_dtype else None
    return model, AuthorsOptim(optimizer, dtype, device)
