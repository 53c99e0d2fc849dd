from . import hooks, optim_wrappers  # noqa: F401  (registers the hooks and wrappers)
