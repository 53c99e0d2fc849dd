"""Generate the demo's COCO-format instance-segmentation set of shapes (``data/demo``).

The generator is :mod:`greenmim_mm.datasets.demo_data`; ``--help`` lists the options.

Example::

    python tools/dataset_converters/make_demo_data.py --out data/demo --seed 0
"""
from greenmim_mm.datasets.demo_data import main

if __name__ == '__main__':
    main()
