"""Install greenmim_mm: ``pip install -e .`` into an existing OpenMMLab environment.

As mmpretrain and mmdet do, the package carries its configs and tools in ``greenmim_mm/.mim``
(copied into wheels and sdists, symbolic links in an editable install), so an installed copy
finds them anywhere (:func:`greenmim_mm.mim_files.config_path`).

``install_requires`` names compatible ranges, so that installing into an environment that
already has the OpenMMLab stack keeps its releases. The exact lock that ``make install`` uses
(and CI tests) is in requirements/*.txt; every locked version lies inside these ranges
(tests/test_packaging.py).
"""
import os
import os.path as osp
import shutil
import sys
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

# What greenmim_mm/.mim holds (as in mmpretrain's setup.py): the configs and the tools.
MIM_FILES = ('configs', 'tools')


def add_mim_extension() -> None:
    """Put ``configs/`` and ``tools/`` into ``greenmim_mm/.mim``: links for an editable
    install (``develop``, ``editable_wheel``), copies for anything that packs files."""
    if 'develop' in sys.argv or 'editable_wheel' in sys.argv:
        mode = 'symlink'
    elif any(cmd in sys.argv for cmd in ('sdist', 'bdist_wheel', 'build', 'install')):
        mode = 'copy'
    else:
        return
    mim_dir = osp.join(HERE, 'greenmim_mm', '.mim')
    os.makedirs(mim_dir, exist_ok=True)
    for name in MIM_FILES:
        src, dst = osp.join(HERE, name), osp.join(mim_dir, name)
        if osp.islink(dst) or osp.isfile(dst):
            os.remove(dst)
        elif osp.isdir(dst):
            shutil.rmtree(dst)
        if mode == 'symlink':
            os.symlink(osp.relpath(src, mim_dir), dst)
        else:
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns('__pycache__', '*.pyc', '*.sh'))


def get_version() -> str:
    scope = {}
    with open(osp.join(HERE, 'greenmim_mm', 'version.py')) as f:
        exec(f.read(), scope)
    return scope['__version__']


add_mim_extension()
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
    include_package_data=True,
    package_data={'greenmim_mm': ['.mim/configs/**/*.py', '.mim/tools/**/*.py']},
    install_requires=INSTALL_REQUIRES,
    # the probe of `make gain` (greenmim_mm/experiments/probe.py); training needs none of it
    extras_require={
        'tests': ['pytest'],
        'experiments': ['scikit-learn>=1.3'],
    },
    license='Apache-2.0',
    zip_safe=False,
)
