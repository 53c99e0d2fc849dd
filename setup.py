"""Install greenmim_mm: ``pip install -e .`` (the OpenMMLab stack is pinned in requirements/)."""
import os.path as osp

from setuptools import find_packages, setup

HERE = osp.dirname(osp.abspath(__file__))


def parse_requirements(fname: str) -> list:
    """Read one requirements file, dropping comments and blank lines."""
    reqs = []
    with open(osp.join(HERE, 'requirements', fname)) as f:
        for line in f:
            line = line.split('#', 1)[0].strip()
            if line:
                reqs.append(line)
    return reqs


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
    long_description=open(osp.join(HERE, 'README.md')).read()
    if osp.exists(osp.join(HERE, 'README.md')) else '',
    long_description_content_type='text/markdown',
    python_requires='>=3.8',
    packages=find_packages(exclude=('tests', 'tests.*', 'configs', 'tools')),
    # torch and mmcv are left to the user's environment (CUDA builds differ per cluster);
    # requirements/torch.txt and requirements/mmcv.txt pin the CPU stack `make install` uses.
    install_requires=parse_requirements('runtime.txt'),
    extras_require={
        'tests': parse_requirements('tests.txt'),
        'torch': parse_requirements('torch.txt'),
        'mmcv': parse_requirements('mmcv.txt'),
    },
    license='Apache-2.0',
    zip_safe=False,
)
