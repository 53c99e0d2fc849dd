from .pretrain_folder import PretrainImageFolder

__all__ = ['PretrainImageFolder']
