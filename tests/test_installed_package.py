"""A wheel installed outside the checkout: every module imports, every config resolves.

The wheel is built from a copy of the checkout (building in place would turn the editable
install's ``greenmim_mm/.mim`` links into copies), installed with ``pip --target`` into a
throwaway folder that comes first on ``sys.path``, and checked from another directory, so
nothing can come from the source tree.
"""
import glob
import json
import os
import os.path as osp
import shutil
import subprocess
import sys

import pytest

from tests.helpers import REPO_ROOT

# Runs in the installed copy; prints a JSON report on its last line.
CHECK = r'''
import glob, importlib, json, os.path as osp, pkgutil, sys
sys.path.insert(0, sys.argv[1])
import greenmim_mm
from greenmim_mm.mim_files import MIM_DIR, config_path, tool_path
from mmengine.config import Config
report = dict(package=greenmim_mm.__file__, modules=[], configs=[])
for info in pkgutil.walk_packages(greenmim_mm.__path__, 'greenmim_mm.'):
    importlib.import_module(info.name)
    report['modules'].append(info.name)
configs = sorted(glob.glob(osp.join(MIM_DIR, 'configs', '**', '*.py'), recursive=True))
for path in configs:
    if '_base_' in path.split(osp.sep):
        continue
    rel = osp.relpath(path, osp.join(MIM_DIR, 'configs'))
    cfg = Config.fromfile(config_path(rel))
    assert 'model' in cfg or 'optim_wrapper' in cfg, rel
    report['configs'].append(rel)
report['train_tool'] = tool_path('train.py')
from greenmim_mm.benchmark.options import DEFAULT_CONFIGS
report['benchmark_configs'] = sorted(DEFAULT_CONFIGS.values())
print(json.dumps(report))
'''


@pytest.fixture(scope='module')
def installed(tmp_path_factory) -> str:
    """The site folder the wheel was installed into."""
    tmp = tmp_path_factory.mktemp('installed')
    src = tmp / 'src'
    shutil.copytree(
        REPO_ROOT,
        src,
        ignore=shutil.ignore_patterns('.git', '.venv', 'data', 'work_dirs', 'build', '*.egg-info',
                                      '__pycache__', '.mim', '.pytest_cache'))
    pip = [sys.executable, '-m', 'pip', '--disable-pip-version-check', '-q']
    subprocess.run(
        pip + ['wheel', '--no-deps', '--no-build-isolation',
               str(src), '-w',
               str(tmp / 'dist')],
        check=True,
        cwd=tmp,
        timeout=300)
    wheels = glob.glob(str(tmp / 'dist' / 'greenmim_mm-*.whl'))
    assert len(wheels) == 1, wheels
    site = tmp / 'site'
    subprocess.run(
        pip + ['install', '--no-deps', '--target',
               str(site), wheels[0]],
        check=True,
        cwd=tmp,
        timeout=300)
    return str(site)


def test_installed_wheel_works_outside_the_checkout(installed, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    proc = subprocess.run([sys.executable, '-c', CHECK, installed],
                          cwd=tmp_path,
                          env=env,
                          capture_output=True,
                          text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report['package'].startswith(installed), report['package']
    shipped = sorted(
        osp.relpath(p, osp.join(REPO_ROOT, 'configs'))
        for p in glob.glob(osp.join(REPO_ROOT, 'configs', '**', '*.py'), recursive=True)
        if '_base_' not in p.split(osp.sep))
    assert report['configs'] == shipped
    assert report['train_tool'].startswith(installed)
    assert all(path.startswith(installed) for path in report['benchmark_configs'])
    packages = {
        osp.relpath(osp.dirname(p), REPO_ROOT).replace(osp.sep, '.')
        for p in glob.glob(osp.join(REPO_ROOT, 'greenmim_mm', '**', '__init__.py'), recursive=True)
    }
    assert packages <= set(report['modules']) | {'greenmim_mm'}


def test_in_a_checkout_its_own_configs_come_first():
    from greenmim_mm.mim_files import config_path, tool_path
    assert config_path('greenmim_swin_b_pretrain.py') == osp.join(REPO_ROOT, 'configs',
                                                                  'greenmim_swin_b_pretrain.py')
    assert tool_path('train.py') == osp.join(REPO_ROOT, 'tools', 'train.py')


def test_a_config_that_is_not_shipped_gets_one_clear_error():
    from greenmim_mm.mim_files import config_path
    with pytest.raises(FileNotFoundError, match=r"ships no config 'nope\.py'.*pip install"):
        config_path('nope.py')
