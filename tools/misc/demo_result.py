"""Write the result file of a ``make demo`` run (``tools/run_demo.sh`` calls it last).

Reads the COCO metrics and losses from the demo's work directory and writes
``<work-dir>/demo_result.json``; ``--publish`` (``DEMO_PUBLISH=1 make demo``) copies it to
``docs/demo/demo_result.json`` and regenerates the tables of README.md and docs/en/*.md.
Example::

    python tools/misc/demo_result.py --work-dir work_dirs/demo --total-s 726 \\
        --phase data=17 --phase pretraining=142 --phase conversion=5 --phase finetuning=560
"""
import os.path as osp

from greenmim_mm.experiments.demo_result import main

if __name__ == '__main__':
    main(root=osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
