"""mmdet-specific pieces: registered in mmdet's registries (importing mmdet).

* :class:`CheckedCocoDataset`: ``CocoDataset`` that names the expected data layout when its
  annotation file or image folder is missing.
* :class:`DetLayerDecayOptimWrapperConstructor`: mmpretrain's layer-wise lr decay for a
  detector, reading the depth of each parameter from its backbone's ``get_layer_depth``.
"""
from .coco import CheckedCocoDataset
from .layer_decay import DetLayerDecayOptimWrapperConstructor

__all__ = ['CheckedCocoDataset', 'DetLayerDecayOptimWrapperConstructor']
