"""An optimizer wrapper constructor whose parameter groups with equal settings are merged.

mmengine's ``DefaultOptimWrapperConstructor`` with a ``paramwise_cfg`` gives every parameter
its own group (346 groups for Swin-B). Fused and foreach optimizers launch their kernels per
group, so AdamW's step then costs ~700 operations (kernel launches on a GPU) where three groups
need six. Merging the groups that carry the same settings (``lr``, ``weight_decay``, ...)
changes no update: every parameter keeps its hyperparameters, and parameter schedulers scale
every group by the same factor.
"""
from typing import List, Optional, Union

import torch.nn as nn
from mmengine.optim import DefaultOptimWrapperConstructor
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS


def merge_param_groups(groups: List[dict]) -> List[dict]:
    """Merge the parameter groups whose settings other than ``params`` are equal.

    Args:
        groups (list[dict]): Parameter groups, each ``{'params': [...], **settings}``.

    Returns:
        list[dict]: One group per distinct settings, in the order each first appears; the
        parameters of a group keep their order.
    """
    merged = {}
    for group in groups:
        settings = {k: v for k, v in group.items() if k != 'params'}
        key = repr(sorted(settings.items()))
        if key not in merged:
            merged[key] = dict(settings, params=[])
        merged[key]['params'].extend(group['params'])
    return list(merged.values())


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class MergedGroupsOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """``DefaultOptimWrapperConstructor`` that merges parameter groups with equal settings.

    Use it as ``optim_wrapper=dict(constructor='MergedGroupsOptimWrapperConstructor', ...)``
    (registered in mmengine's root registry). ``paramwise_cfg`` means what it means for the
    default constructor; only the grouping of the built optimizer differs. A checkpoint's
    optimizer state is only compatible with an optimizer built the same way.
    """

    def add_params(self,
                   params: List[dict],
                   module: nn.Module,
                   prefix: str = '',
                   is_dcn_module: Optional[Union[int, float]] = None) -> None:
        super().add_params(params, module, prefix, is_dcn_module)
        if prefix == '':  # the outermost call, after the recursion over submodules
            params[:] = merge_param_groups(params)
