"""greenmim_mm: GreenMIM for OpenMMLab 2.0.

Importing the package is all a config needs (``custom_imports=dict(imports=['greenmim_mm'],
allow_failed_imports=False)``): it registers the models, datasets and transforms in
mmpretrain's registries, the generic hooks and optimizer wrappers in mmengine's root
registries (every scope finds them), the mmdet-side modules when mmdet is installed, and makes
checkpoints of this stack loadable under torch's ``weights_only=True`` default
(``greenmim_mm.compat``), so mmdet's and mmpretrain's own tools and inferencers work on our
configs and checkpoints.
"""
from . import compat  # noqa: F401,I001  (upstream workarounds; first, as the rest may load)
from . import datasets, engine, models  # noqa: F401  (registers modules)
from .version import __version__

try:  # mmdet-side modules (COCO dataset checks, layer decay for detectors)
    from . import det  # noqa: F401
except ModuleNotFoundError as err:  # pretraining works without mmdet installed
    if err.name is None or not err.name.startswith('mmdet'):
        raise

__all__ = ['__version__']
