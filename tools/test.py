"""Test (and evaluate) a checkpoint with an mmdet- or mmpretrain-scope config.

mmdet's ``tools/test.py`` (``--out``, ``--show-dir``, ``--cfg-options`` merged last), plus the
gloo fallback of ``--launcher`` without CUDA and a clear error for unregistered types (see
``greenmim_mm/cli/test.py``). The checkpoint check comes from our configs, so mmdet's own
``tools/test.py`` runs it too.

Example::

    python tools/test.py configs/demo/mask-rcnn_greenmim_demo.py work_dirs/x/iter_900.pth \
        --out results.pkl --show-dir vis
    bash tools/dist_test.sh CONFIG CHECKPOINT 2
"""
from greenmim_mm.cli.test import main

if __name__ == '__main__':
    main()
    from greenmim_mm.compat import exit_finished_rank
    exit_finished_rank()  # a rank of a gloo run ends here (greenmim_mm.compat.gloo_exit)
