"""Install greenmim_mm: ``pip install -e .`` into an existing OpenMMLab environment.

``install_requires`` names compatible ranges, so that installing into an environment that
already has the OpenMMLab stack keeps its releases. The exact lock that ``make install`` uses
(and CI tests) is in requirements/*.txt; every locked version lies inside these ranges
(tests/test_packaging.py).
"""
import os.path as osp
from setuptools import find_packages, setup

HERE = osp.dirname(osp.abspath(__file__))

# Tested with mmengine 0.10.7, mmpretrain 1.2.0, mmdet 3.3.0 (requirements/runtime.txt). The
# upper bounds are the next minor releases: the workarounds in greenmim_mm/compat are gated on
# these versions and the sparse backbone subclasses mmpretrain's Swin internals.
INSTALL_REQUIRES = [
    'mmengine>=0.10.7,<0.11',
    'mmpretrain>=1.2.0,<1.3',
    'mmdet>=3.3.0,<3.4',  # mmdet 3.3 itself requires mmcv>=2.0.0rc4,<2.2.0
    'pycocotools',
    'numpy<2.4',  # numpy 2.4 removed np.in1d, which an mmpretrain metric uses
]


def get_version() -> str:
    scope = {}
    with open(osp.join(HERE, 'greenmim_mm', 'version.py')) as f:
        exec(f.read(), scope)
    return scope['__version__']


setup(
    name='greenmim_mm',
    version=get_version(),
    description='GreenMIM (NeurIPS 2022) for OpenMMLab 2.0: sparse Swin masked image '
    'modeling with mmpretrain, COCO fine-tuning with mmdet',
    long_description=open(osp.join(HERE, 'README.md')).read() if osp.exists(
        osp.join(HERE, 'README.md')) else '',
    long_description_content_type='text/markdown',
    python_requires='>=3.8',
    packages=find_packages(exclude=('tests', 'tests.*', 'configs', 'tools')),
    # torch and mmcv are left to the user's environment (CUDA builds differ per cluster);
    # requirements/torch.txt and requirements/mmcv.txt pin the CPU stack `make install` uses.
    install_requires=INSTALL_REQUIRES,
    # the probe of `make gain` (greenmim_mm/experiments/probe.py); training needs none of it
    extras_require={
        'tests': ['pytest'],
        'experiments': ['scikit-learn>=1.3'],
    },
    license='Apache-2.0',
    zip_safe=False,
)
