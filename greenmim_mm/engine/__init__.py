from . import hooks, optim_wrappers  # noqa: F401
from . import atomic_checkpoint, checkpoint_check, config_errors, dist_loss_hook  # noqa: F401
