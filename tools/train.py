"""Train a model from an mmpretrain- or mmdet-scope config.

mmpretrain's ``tools/train.py`` (same flags, ``--cfg-options`` merged last), plus only what a
config cannot express: ``--amp`` on a machine without CUDA (bfloat16 autocast), the gloo
fallback of ``--launcher`` without CUDA, and a clear error for unregistered types (see
``greenmim_mm/cli/train.py``). Everything else -- atomic checkpoints, the checkpoint check,
rank-averaged loss logging -- is declared by our configs, so mmpretrain's and mmdet's own
``tools/train.py`` (and ``mim train``) give the same run.

Example::

    python tools/train.py configs/demo/greenmim_demo_pretrain.py --work-dir work_dirs/x --amp
    bash tools/dist_train.sh CONFIG 8 [args]        # torchrun, --launcher pytorch
    srun -p PARTITION --ntasks=16 --ntasks-per-node=8 --gres=gpu:8 \
        python -u tools/train.py CONFIG --launcher slurm [args]

Under slurm, mmengine reads ``SLURM_PROCID``, ``SLURM_NTASKS``, ``SLURM_LOCALID`` and the
first host of ``SLURM_NODELIST`` (via ``scontrol``); ``MASTER_PORT`` (default 29500) must
differ between jobs sharing a node. Interrupted runs continue with ``--resume``.
"""
from greenmim_mm.cli.train import main

if __name__ == '__main__':
    main()
    from greenmim_mm.compat import exit_finished_rank
    exit_finished_rank()  # a rank of a gloo run ends here (greenmim_mm.compat.gloo_exit)
