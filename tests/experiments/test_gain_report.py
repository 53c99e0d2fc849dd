"""greenmim_mm.experiments.gain_report: the tables and plot of a run, and the published pages'
tables equal to what the committed JSON generates."""
import json
import os.path as osp
from dataclasses import asdict

import pytest

from greenmim_mm.experiments import gain_report
from greenmim_mm.experiments.pretrain_gain import summarize
from tests.helpers import REPO_ROOT, fake_gain_probes

PUBLISHED_JSON = osp.join(REPO_ROOT, 'docs', 'pretraining_gain', 'pretraining_gain.json')


def read(path: str) -> str:
    with open(path, encoding='utf-8') as f:
        return f.read()


def fake_results() -> dict:
    probes, pretrain, settings = fake_gain_probes(
        random=[0.40, 0.41, 0.42],
        green={
            0.5: [0.50, 0.51, 0.52],
            1.0: [0.54, 0.55, 0.56]
        },
        sim={
            0.5: [0.44, 0.45, 0.46],
            1.0: [0.48, 0.49, 0.50]
        })
    settings.budget_s = 100.0
    settings.seeds = [0, 1, 2]
    return dict(
        settings=asdict(settings),
        machine=dict(
            platform='Linux',
            processor='a CPU',
            cpu_count=2,
            threads_per_run=1,
            runs_at_once=2,
            torch='2.x'),
        date='2026-01-01 00:00 UTC',
        data=dict(train=100),
        calibration=dict(greenmim=dict(step_s=0.125), simmim=dict(step_s=0.25)),
        probe=probes,
        summary={p: summarize(probes, pretrain, settings, probe=p)
                 for p in ('lr', 'knn')},
        total_s=600.0)


def test_tables_of_a_run():
    text = gain_report.results_tables(fake_results())
    assert '| random init | none | 0.410 ± 0.010 | 0.400, 0.410, 0.420 |' in text
    assert '| GreenMIM | 800 it (0.125 s/it), 100 s | 0.550 ± 0.010 |' in text
    assert '| 0.5 | 400 (50) | 0.510 ± 0.010 | 0.510 ± 0.010 | 200 (50) |' in text
    assert "SimMIM's accuracy at T after 0.40 T (within 0.6 T: yes)" in text
    assert 'All three criteria: yes.' in text
    readme = gain_report.readme_table(fake_results())
    assert '| GreenMIM | 0.550 ± 0.010 | 0.550 ± 0.010 | 0.40 T |' in readme
    assert '| SimMIM | 0.490 ± 0.010 | 0.490 ± 0.010 | T |' in readme


def test_plot_of_a_run(tmp_path):
    path = tmp_path / 'p.png'
    gain_report.plot_results(fake_results(), str(path))
    assert path.read_bytes()[:4] == b'\x89PNG'


def test_blocks_are_replaced_between_their_markers():
    markers = ('<!-- a -->', '<!-- b -->')
    text = 'x\n<!-- a -->\nold\nlines\n<!-- b -->\ny'
    new = gain_report.replace_block(text, markers, 'new')
    assert new == 'x\n<!-- a -->\nnew\n<!-- b -->\ny'
    assert gain_report.read_block(new, markers) == 'new'
    empty = 'x\n<!-- a -->\n<!-- b -->\ny'
    assert gain_report.read_block(empty, markers) == ''
    assert gain_report.replace_block(empty, markers, 'new') == new
    with pytest.raises(ValueError, match='not found'):
        gain_report.replace_block('no markers', markers, 'new')


def test_publishing_writes_both_pages_or_neither(tmp_path):
    page, readme = tmp_path / 'page.md', tmp_path / 'README.md'
    page.write_text('# Results\n\n' + '\n'.join(gain_report.DOCS_MARKERS) + '\n')
    readme.write_text('no markers\n')
    with pytest.raises(ValueError):
        gain_report.publish_tables(fake_results(), str(page), str(readme))
    assert page.read_text().endswith('\n'.join(gain_report.DOCS_MARKERS) + '\n')
    readme.write_text('front\n' + '\n'.join(gain_report.README_MARKERS) + '\nend\n')
    gain_report.publish_tables(fake_results(), str(page), str(readme))
    assert gain_report.read_block(page.read_text(), gain_report.DOCS_MARKERS) == \
        gain_report.results_tables(fake_results())
    assert readme.read_text().startswith('front\n') and readme.read_text().endswith('\nend\n')


def test_published_pages_show_the_published_json():
    """docs/en/pretraining_gain.md and README.md hold the tables the committed JSON makes."""
    results = json.loads(read(PUBLISHED_JSON))
    page = read(osp.join(REPO_ROOT, 'docs', 'en', 'pretraining_gain.md'))
    readme = read(osp.join(REPO_ROOT, 'README.md'))
    assert gain_report.read_block(page, gain_report.DOCS_MARKERS) == \
        gain_report.results_tables(results)
    assert gain_report.read_block(readme, gain_report.README_MARKERS) == \
        gain_report.readme_table(results)
