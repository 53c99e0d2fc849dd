"""greenmim_mm: GreenMIM for OpenMMLab 2.0.

Importing the package registers its modules in mmpretrain's (and mmdet's) registries, so
configs only need ``custom_imports=dict(imports=['greenmim_mm'], allow_failed_imports=False)``.
"""
from .version import __version__
from . import datasets, engine, models, utils  # noqa: F401  (registers modules)

try:  # mmdet-side modules (COCO dataset checks, layer decay for detectors)
    from . import det  # noqa: F401
except ModuleNotFoundError as err:  # pretraining works without mmdet installed
    if err.name is None or not err.name.startswith('mmdet'):
        raise

__all__ = ['__version__']
