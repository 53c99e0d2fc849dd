"""A wheel installed into a throwaway venv: from outside the checkout every module imports and
every config resolves.

The wheel is built from a copy of the checkout (building in place would turn the editable
install's ``greenmim_mm/.mim`` links into copies) and installed with pip into a fresh venv
made from the base interpreter, so nothing can come from the source tree or the editable
install. The venv borrows the dependencies (torch, the OpenMMLab stack) from this
interpreter's site-packages through a ``.pth`` file of plain directory lines, written after
the install: such lines only extend ``sys.path`` -- the ``.pth`` files in those directories,
among them the editable install's, are not run -- and pip, which runs in the venv, never sees
this environment's greenmim_mm.
"""
import glob
import json
import os.path as osp
import shutil
import site
import sys

import pytest

from tests.helpers import REPO_ROOT, run_tool

CHECKOUT = ('PYTHONPATH', )  # may name a checkout: no subprocess here inherits it

# Runs in the throwaway venv; writes a JSON report to the file its argument names.
CHECK = r'''
import glob, importlib, importlib.metadata, json, os.path as osp, pkgutil, sys
import greenmim_mm
from greenmim_mm.mim_files import MIM_DIR, config_path, tool_path
from mmengine.config import Config
report = dict(prefix=sys.prefix, package=greenmim_mm.__file__, modules=[], configs=[])
for info in pkgutil.walk_packages(greenmim_mm.__path__, 'greenmim_mm.'):
    importlib.import_module(info.name)
    report['modules'].append(info.name)
report['module_files'] = sorted(
    m.__file__ for name, m in sys.modules.items()
    if name.split('.')[0] == 'greenmim_mm' and getattr(m, '__file__', None))
report['editable_finders'] = [name for name in sys.modules if name.startswith('__editable__')]
report['metadata'] = str(importlib.metadata.distribution('greenmim_mm').locate_file(
    'greenmim_mm/__init__.py'))
for path in sorted(glob.glob(osp.join(MIM_DIR, 'configs', '**', '*.py'), recursive=True)):
    rel = osp.relpath(path, osp.join(MIM_DIR, 'configs'))
    if '_base_' in rel.split(osp.sep):
        continue
    cfg = Config.fromfile(config_path(rel))
    assert 'model' in cfg or 'optim_wrapper' in cfg, rel
    report['configs'].append(rel)
report['config_path'] = config_path('greenmim_swin_b_pretrain.py')
report['train_tool'] = tool_path('train.py')
from greenmim_mm.benchmark.options import DEFAULT_CONFIGS
report['benchmark_configs'] = sorted(DEFAULT_CONFIGS.values())
with open(sys.argv[1], 'w') as f:
    json.dump(report, f)
'''


def dependency_dirs() -> list:
    """This interpreter's site-packages folders: where the throwaway venv finds torch & co."""
    return list(dict.fromkeys(site.getsitepackages()))


@pytest.fixture(scope='module')
def venv(tmp_path_factory) -> dict:
    """A fresh venv holding the wheel: its ``python`` and its ``site`` folder."""
    tmp = tmp_path_factory.mktemp('installed')
    src = tmp / 'src'
    shutil.copytree(
        REPO_ROOT,
        src,
        ignore=shutil.ignore_patterns('.git', '.venv', 'data', 'work_dirs', 'build', '*.egg-info',
                                      '__pycache__', '.mim', '.pytest_cache'))
    pip = [sys.executable, '-m', 'pip', '--disable-pip-version-check', '-q']
    run_tool(
        pip + ['wheel', '--no-deps', '--no-build-isolation', src, '-w', tmp / 'dist'],
        tmp,
        without=CHECKOUT)
    wheels = glob.glob(str(tmp / 'dist' / 'greenmim_mm-*.whl'))
    assert len(wheels) == 1, wheels

    base_python = getattr(sys, '_base_executable', None) or sys.executable
    run_tool([base_python, '-m', 'venv', '--without-pip', tmp / 'venv'], tmp, without=CHECKOUT)
    python = str(tmp / 'venv' / 'bin' / 'python')
    # pip (this interpreter's) installs into the interpreter --python names.
    run_tool(
        pip + ['--python', python, 'install', '--no-deps', '--no-index', wheels[0]],
        tmp,
        without=CHECKOUT)
    site_dir = run_tool([python, '-c', 'import sysconfig; print(sysconfig.get_path("purelib"))'],
                        tmp,
                        without=CHECKOUT).stdout.strip()
    assert site_dir.startswith(str(tmp / 'venv')), site_dir
    with open(osp.join(site_dir, 'greenmim_mm_test_dependencies.pth'), 'w') as f:
        f.write(''.join(f'{d}\n' for d in dependency_dirs()))
    return dict(python=python, site=site_dir)


def test_installed_wheel_works_outside_the_checkout(venv, tmp_path):
    report_file = tmp_path / 'report.json'
    run_tool([venv['python'], '-c', CHECK, report_file], tmp_path, without=CHECKOUT)
    report = json.loads(report_file.read_text())
    installed = osp.join(venv['site'], 'greenmim_mm') + osp.sep
    assert osp.realpath(report['prefix']) == osp.realpath(osp.dirname(osp.dirname(venv['python'])))
    assert report['package'] == installed + '__init__.py'
    assert report['metadata'] == report['package']  # the wheel's metadata, not the editable's
    assert report['editable_finders'] == []
    assert all(path.startswith(installed) for path in report['module_files']), [
        p for p in report['module_files'] if not p.startswith(installed)
    ]
    packages = {
        osp.relpath(osp.dirname(p), REPO_ROOT).replace(osp.sep, '.')
        for p in glob.glob(osp.join(REPO_ROOT, 'greenmim_mm', '**', '__init__.py'), recursive=True)
    }
    assert packages <= set(report['modules']) | {'greenmim_mm'}
    shipped = sorted(
        osp.relpath(p, osp.join(REPO_ROOT, 'configs'))
        for p in glob.glob(osp.join(REPO_ROOT, 'configs', '**', '*.py'), recursive=True)
        if '_base_' not in p.split(osp.sep))
    assert report['configs'] == shipped
    assert report['config_path'] == installed + '.mim/configs/greenmim_swin_b_pretrain.py'
    assert report['train_tool'] == installed + '.mim/tools/train.py'
    assert report['benchmark_configs']
    assert all(path.startswith(installed) for path in report['benchmark_configs'])


def test_in_a_checkout_its_own_configs_come_first():
    from greenmim_mm.mim_files import config_path, tool_path
    assert config_path('greenmim_swin_b_pretrain.py') == osp.join(REPO_ROOT, 'configs',
                                                                  'greenmim_swin_b_pretrain.py')
    assert tool_path('train.py') == osp.join(REPO_ROOT, 'tools', 'train.py')


def test_a_config_that_is_not_shipped_gets_one_clear_error():
    from greenmim_mm.mim_files import config_path
    with pytest.raises(FileNotFoundError, match=r"ships no config 'nope\.py'.*pip install"):
        config_path('nope.py')
