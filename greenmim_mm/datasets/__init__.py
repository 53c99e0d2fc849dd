from .pretrain_folder import PretrainImageFolder
from .transforms import SafeLoadImageFromFile  # noqa: F401  (registers the transform)

__all__ = ['PretrainImageFolder']
