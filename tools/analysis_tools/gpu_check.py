"""The ready GPU check (``make gpu-check``): CUDA tests and the benchmark grid, <= 8 minutes.

See ``greenmim_mm/benchmark/gpu_check.py`` and ``docs/en/benchmark_profiling.md``. Examples::

    python tools/analysis_tools/gpu_check.py                          # on a GPU machine
    python tools/analysis_tools/gpu_check.py --out-dir work_dirs/gpu_check --budget-s 420
    python tools/analysis_tools/gpu_check.py --tiny                   # smoke run, any machine
"""
from greenmim_mm.benchmark.gpu_check import main

if __name__ == '__main__':
    main()
