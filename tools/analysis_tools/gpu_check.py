"""The ready GPU check (``make gpu-check``): CUDA tests and the benchmark grid, <= 8 minutes.

See ``greenmim_mm/benchmark/gpu_check.py`` and ``docs/en/benchmark_profiling.md``. Examples::

    python tools/analysis_tools/gpu_check.py                          # on a GPU machine
    python tools/analysis_tools/gpu_check.py --out-dir work_dirs/gpu_check --budget-s 420
    python tools/analysis_tools/gpu_check.py --tiny                   # smoke run, any machine
"""
import os.path as osp
import sys

from greenmim_mm.benchmark.gpu_check import main

# The checkout's test suite, whose CUDA tests the check runs first.
TESTS_DIR = osp.join(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'tests')

if __name__ == '__main__':
    argv = sys.argv[1:]
    if not any(a.startswith('--tests-dir') for a in argv) and osp.isdir(TESTS_DIR):
        argv += ['--tests-dir', TESTS_DIR]
    main(argv)
