"""Distributed launches (``--launcher pytorch``) on machines without CUDA.

mmengine 0.10.7 assumes GPUs once a launcher is set: its default backend is NCCL,
``init_dist`` calls ``torch.cuda.set_device(local_rank)`` before creating the process group,
and the runner wraps the model in DDP with ``device_ids=[local_rank]``, which DDP rejects for
CPU modules. :func:`setup_cpu_distributed` switches all three to their CPU counterparts.
"""
import datetime

import torch
import torch.distributed as torch_dist
from mmengine.config import Config


def use_cpu_dist_cfg(cfg: Config) -> None:
    """Point a distributed config at CPU: gloo backend, DDP without device ids.

    Args:
        cfg (Config): The full config; ``env_cfg.dist_cfg`` becomes ``dict(backend='gloo')``
            (keeping a configured ``timeout``) and ``model_wrapper_cfg`` gets
            ``device_ids=None`` unless it names device ids itself.
    """
    env_cfg = cfg.get('env_cfg') or {}
    dist_cfg = dict(backend='gloo')
    timeout = (env_cfg.get('dist_cfg') or {}).get('timeout')
    if timeout is not None:
        dist_cfg['timeout'] = timeout
    cfg.env_cfg = dict(env_cfg, dist_cfg=dist_cfg)

    wrapper_cfg = cfg.get('model_wrapper_cfg')
    if wrapper_cfg is None:
        cfg.model_wrapper_cfg = dict(
            type='MMDistributedDataParallel',
            broadcast_buffers=False,
            find_unused_parameters=cfg.get('find_unused_parameters', False),
            device_ids=None)
    else:
        wrapper_cfg.setdefault('device_ids', None)


def init_cpu_process_group(cfg: Config) -> None:
    """Create the gloo process group from torchrun's environment, if none exists yet.

    mmengine then finds an initialised group and skips its own CUDA-bound ``init_dist``.

    Args:
        cfg (Config): The full config; ``env_cfg.dist_cfg.timeout`` (seconds) is honoured.
    """
    if torch_dist.is_initialized():
        return
    dist_cfg = (cfg.get('env_cfg') or {}).get('dist_cfg') or {}
    kwargs = {}
    if dist_cfg.get('timeout') is not None:
        kwargs['timeout'] = datetime.timedelta(seconds=dist_cfg['timeout'])
    torch_dist.init_process_group(backend='gloo', **kwargs)


def setup_cpu_distributed(cfg: Config) -> bool:
    """Prepare a distributed run for CPU when CUDA is not available.

    Does nothing for ``launcher='none'`` or when CUDA is available. The process group is
    created here only for the ``pytorch`` launcher (torchrun's ``RANK``/``WORLD_SIZE``/
    ``MASTER_ADDR``/``MASTER_PORT`` environment); for slurm and mpi the config is switched to
    gloo and mmengine initialises the group.

    Args:
        cfg (Config): The full config, with ``launcher`` already set.

    Returns:
        bool: Whether the CPU fallback was applied.
    """
    launcher = cfg.get('launcher', 'none')
    if launcher == 'none' or torch.cuda.is_available():
        return False
    use_cpu_dist_cfg(cfg)
    if launcher == 'pytorch':
        init_cpu_process_group(cfg)
    return True
