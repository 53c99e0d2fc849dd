"""The code behind ``tools/train.py`` and ``tools/test.py``, importable by tests and other tools.

The tools follow mmpretrain's ``tools/train.py`` and mmdet's ``tools/test.py`` flag for flag
(``--cfg-options`` merged last); everything a run does is in the config. On top of upstream they
only add what a config cannot express: ``--amp`` on a machine without CUDA, the gloo fallback
of ``--launcher pytorch|slurm`` without CUDA, a clearer error for unregistered types, and the
gloo exit workaround (``greenmim_mm.compat``). Named ``cli`` because mmpretrain's and mmdet's
``apis`` hold inferencers.
"""
