"""Log the losses of the whole distributed batch, not rank 0's share of it.

mmengine's ``BaseModel.parse_losses`` does not reduce across ranks, so a DDP run logs the loss
of rank 0's ``batch_size`` samples: noisier than, and not comparable with, a single-process run
of the same total batch. (mmdet 2.x averaged log variables over ranks; mmengine dropped it.)
:class:`DistLossAverageHook` restores that: it averages every scalar of the model's outputs
over the ranks before ``RuntimeInfoHook`` records them. The gradients are unaffected -- DDP
already averages those.
"""
import logging
import zlib
from typing import Optional

import torch
from mmengine.dist import all_gather, all_reduce, get_world_size
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.registry import HOOKS


@HOOKS.register_module()
class DistLossAverageHook(Hook):
    """Average the logged training outputs (losses, accuracies) over all ranks.

    Runs before mmengine's ``RuntimeInfoHook`` (priority ``HIGHEST``) and replaces each scalar
    tensor in the outputs by its mean over the ranks: two small collectives per iteration
    (a check that every rank logs the same keys, then the average). If the ranks log different
    keys, it warns once and leaves the outputs alone instead of mismatching collectives.
    Does nothing in a single-process run. Our base runtime configs declare it
    (``default_hooks.dist_loss_average``; registered in mmengine's root ``HOOKS``).
    """

    priority = 'HIGHEST'

    def __init__(self) -> None:
        self._warned = False

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs: Optional[dict] = None) -> None:
        """Average the scalar outputs over the ranks, in place."""
        if not outputs or get_world_size() < 2:
            return
        keys = [k for k, v in outputs.items() if isinstance(v, torch.Tensor) and v.numel() == 1]
        signature = torch.tensor([len(keys), zlib.crc32('\n'.join(keys).encode())],
                                 dtype=torch.int64)
        signatures = all_gather(signature)
        if any(not torch.equal(s.cpu(), signature) for s in signatures):
            if not self._warned:
                print_log(
                    'DistLossAverageHook: the ranks log different outputs, so the logged '
                    "values stay rank 0's own (this warning is shown once)",
                    logger='current',
                    level=logging.WARNING)
                self._warned = True
            return
        if not keys:
            return
        values = torch.stack([outputs[k].detach().float().reshape(()) for k in keys])  # (K, )
        all_reduce(values, op='mean')
        for key, value in zip(keys, values.cpu()):
            outputs[key] = value
