"""The tiny models the tests share, defined once."""
from typing import Optional


def tiny_svt_cfg(window: int = 7, **overrides) -> dict:
    """A tiny ``GreenMIMSVT`` config: stages of two blocks (an LSA and a GSA layer),
    embed 16/16/32/32, sr 8/4/2/1, the last stage normed (what GreenMIM reads).

    Args:
        window (int): The LSA window of every stage. Defaults to 7 (one window per stage at
            224 px from stage 1 on); 4 gives several windows, and groups, per stage.
        **overrides: Keys of the backbone config to replace (``type``, ``out_indices`` ...).

    Returns:
        dict: The backbone config (``type='GreenMIMSVT'``).
    """
    cfg = dict(
        type='GreenMIMSVT',
        arch=dict(
            embed_dims=[16, 16, 32, 32],
            depths=[2, 2, 2, 2],
            num_heads=[1, 1, 2, 2],
            patch_sizes=[4, 2, 2, 2],
            strides=[4, 2, 2, 2],
            mlp_ratios=[2, 2, 2, 2],
            sr_ratios=[8, 4, 2, 1],
            window_sizes=[window] * 4),
        qkv_bias=True,
        norm_after_stage=[False, False, False, True])
    cfg.update(overrides)
    return cfg


def build_tiny_svt(window: int = 7, seed: Optional[int] = None, **overrides):
    """:func:`tiny_svt_cfg` built (with ``torch.manual_seed(seed)`` first when given)."""
    import torch
    from mmpretrain.registry import MODELS

    import greenmim_mm  # noqa: F401  (registers the modules)
    if seed is not None:
        torch.manual_seed(seed)
    return MODELS.build(tiny_svt_cfg(window, **overrides))
