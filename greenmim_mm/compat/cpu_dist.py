"""Workaround: distributed launches (``--launcher pytorch`` or ``slurm``) without CUDA.

Upstream behaviour (mmengine <= 0.10.7) assumes GPUs once a launcher is set: its default backend
is NCCL, ``init_dist`` calls ``torch.cuda.set_device(local_rank)`` before creating the process group
(for slurm: ``proc_id % torch.cuda.device_count()``, a division by zero without GPUs), and the
runner wraps the model in DDP with ``device_ids=[local_rank]``, which DDP rejects for CPU
modules. :func:`setup_cpu_distributed` switches all three to their CPU counterparts, only
when CUDA is absent; ``tools/train.py`` and ``tools/test.py`` call it (a config cannot: the
process group is created before anything of the config runs).
``tests/compat/test_cpu_dist.py`` fails once mmengine's own ``init_dist`` works without CUDA.
"""
import datetime
import os
import subprocess
from typing import MutableMapping

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


def slurm_to_torch_env(environ: MutableMapping[str, str] = os.environ,
                       scontrol: str = 'scontrol') -> None:
    """Fill torch's ``env://`` variables from srun's, as mmengine's slurm init does.

    ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK`` come from ``SLURM_PROCID``, ``SLURM_NTASKS``
    and ``SLURM_LOCALID``; ``MASTER_ADDR`` (unless set) is the first host of
    ``SLURM_NODELIST`` (``scontrol show hostname``); ``MASTER_PORT`` defaults to 29500.

    Args:
        environ (MutableMapping[str, str]): The environment to fill. Defaults to os.environ.
        scontrol (str): The scontrol executable. Defaults to 'scontrol'.
    """
    missing = [k for k in ('SLURM_PROCID', 'SLURM_NTASKS', 'SLURM_NODELIST') if k not in environ]
    if missing:
        raise RuntimeError(f'--launcher slurm needs the variables srun sets, missing: '
                           f'{", ".join(missing)}. Start the job with srun (see '
                           'tools/train.py --help), or use --launcher pytorch with torchrun.')
    environ['RANK'] = environ['SLURM_PROCID']
    environ['WORLD_SIZE'] = environ['SLURM_NTASKS']
    environ['LOCAL_RANK'] = environ.get('SLURM_LOCALID', '0')
    if 'MASTER_ADDR' not in environ:
        node_list = environ['SLURM_NODELIST']
        try:
            out = subprocess.run([scontrol, 'show', 'hostname', node_list],
                                 capture_output=True,
                                 text=True,
                                 check=True).stdout
        except (OSError, subprocess.CalledProcessError) as err:
            raise RuntimeError(f'could not resolve the first host of SLURM_NODELIST='
                               f'{node_list!r} with scontrol ({err}); set MASTER_ADDR to the '
                               'address of the job\'s first node.') from None
        environ['MASTER_ADDR'] = out.split()[0]
    environ.setdefault('MASTER_PORT', '29500')


def setup_cpu_distributed(cfg: Config) -> bool:
    """Prepare a distributed run for CPU when CUDA is not available.

    Does nothing for ``launcher='none'`` or when CUDA is available. The gloo process group is
    created here for the ``pytorch`` launcher (torchrun's ``RANK``/``WORLD_SIZE``/
    ``MASTER_ADDR``/``MASTER_PORT`` environment) and for ``slurm`` (srun's variables, see
    :func:`slurm_to_torch_env`); for mpi the config is switched to gloo and mmengine
    initialises the group.

    Args:
        cfg (Config): The full config, with ``launcher`` already set.

    Returns:
        bool: Whether the CPU fallback was applied.
    """
    launcher = cfg.get('launcher', 'none')
    if launcher == 'none' or torch.cuda.is_available():
        return False
    use_cpu_dist_cfg(cfg)
    if launcher == 'slurm':
        slurm_to_torch_env()
    if launcher in ('pytorch', 'slurm'):
        init_cpu_process_group(cfg)
    return True
