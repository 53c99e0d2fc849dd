"""Building blocks of the GreenMIM models, in rooms.

- :mod:`.sparse`: operations on the visible tokens (geometry, grouping, group attention,
  sparse convolutions);
- :mod:`.precision`: mixed-precision machinery (lean autograd functions, weight shadows);
- :mod:`.masking`: unit masks (drawing, checking, visible indices);
- :mod:`.ckpt_convert`: conversion of the authors' checkpoints (pure functions).
"""
from . import ckpt_convert, precision, sparse
from .masking import (check_mask_ratio, check_unit_mask, mask_generator, num_visible_units,
                      random_unit_mask, sorted_visible_indices, unit_grid, visible_indices)

__all__ = [
    'sparse', 'precision', 'ckpt_convert', 'check_mask_ratio', 'check_unit_mask', 'mask_generator',
    'num_visible_units', 'random_unit_mask', 'sorted_visible_indices', 'unit_grid',
    'visible_indices'
]
