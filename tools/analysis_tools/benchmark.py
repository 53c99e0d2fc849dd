"""Side-by-side training-step speed and memory of GreenMIM and mmpretrain's SimMIM.

The method (what a step is, how time and memory are measured, what ``--profile`` counts) is
described in ``greenmim_mm/benchmark/__init__.py`` and ``docs/en/benchmark_profiling.md``.
Writes a table to stdout, ``--json`` and a PNG plot (``--plot``). Examples::

    python tools/analysis_tools/benchmark.py                       # the full set (make bench)
    python tools/analysis_tools/benchmark.py --cases 224:8 --no-sweep --no-memory --profile
    python tools/analysis_tools/benchmark.py --device cuda --cases 224:64 224:128 --compile
    python tools/analysis_tools/benchmark.py --help                # every flag, more examples
"""
from greenmim_mm.benchmark.run import main

if __name__ == '__main__':
    main()
