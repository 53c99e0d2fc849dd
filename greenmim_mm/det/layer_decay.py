"""Layer-wise learning-rate decay for a detector with a Swin (or any layered) backbone."""
from functools import partial
from typing import Callable, List, Optional

from mmdet.registry import OPTIM_WRAPPER_CONSTRUCTORS
from mmpretrain.engine.optimizers import LearningRateDecayOptimWrapperConstructor
from torch import nn


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class DetLayerDecayOptimWrapperConstructor(LearningRateDecayOptimWrapperConstructor):
    """mmpretrain's ``LearningRateDecayOptimWrapperConstructor`` for detectors.

    mmpretrain's constructor asks the model for ``get_layer_depth``, which its classifiers have
    and mmdet's detectors do not; mmdet's own ``LearningRateDecayOptimizerConstructor`` parses
    ConvNeXt parameter names only. This subclass takes the depth of every parameter from the
    detector's backbone (``SwinTransformer.get_layer_depth`` with prefix ``backbone.``): patch
    embedding 0, block ``k`` of the backbone ``k + 1``, and the neck and heads the last depth, so
    they train at the base learning rate. ``paramwise_cfg`` is mmpretrain's
    (``layer_decay_rate``, ``norm_decay_mult``, ``bias_decay_mult``, ``flat_decay_mult``,
    ``custom_keys`` with ``decay_mult``).

    Example:
        >>> optim_wrapper = dict(
        >>>     constructor='DetLayerDecayOptimWrapperConstructor',
        >>>     optimizer=dict(type='AdamW', lr=1e-4, weight_decay=0.05),
        >>>     paramwise_cfg=dict(layer_decay_rate=0.9, norm_decay_mult=0.,
        >>>                        bias_decay_mult=0.))
    """

    def add_params(self,
                   params: List[dict],
                   module: nn.Module,
                   prefix: str = '',
                   get_layer_depth: Optional[Callable] = None,
                   **kwargs) -> None:
        if get_layer_depth is None and not hasattr(module, 'get_layer_depth'):
            backbone = getattr(module, 'backbone', None)
            if backbone is None or not hasattr(backbone, 'get_layer_depth'):
                raise NotImplementedError(
                    f'{type(self).__name__} needs a model with a `backbone` that has '
                    f'`get_layer_depth`; got {type(module).__name__} with backbone '
                    f'{type(backbone).__name__}')
            get_layer_depth = partial(backbone.get_layer_depth, prefix='backbone.')
        super().add_params(params, module, prefix, get_layer_depth=get_layer_depth, **kwargs)
