"""The pages' generated tables match the committed result files, and the check catches drift."""
import json
import os.path as osp
import re
import shutil

import pytest

from greenmim_mm.docs_tables import TABLES, Block, differences, page_paths, result_paths, update
from greenmim_mm.docs_tables.pages import Renderer
from tests.helpers import REPO_ROOT


def test_pages_match_their_result_files():
    """Fails when a figure in a result file (or a page's table) was changed by hand: run
    ``python tools/misc/update_docs_tables.py``."""
    problems = differences(REPO_ROOT)
    assert not problems, 'pages and result files differ:\n' + '\n'.join(problems)


def test_every_result_file_and_table_is_in_use():
    read = {p for t in TABLES.values() for p in t.sources + t.optional}
    assert set(result_paths(REPO_ROOT)) <= read
    assert 'README.md' in page_paths(REPO_ROOT)


def test_transcribed_figures_say_so_wherever_shown():
    """A result file transcribed from earlier notes (``transcribed_from``) is never shown as
    a tool's own output: every table that reads it says "transcribed"."""
    renderer = Renderer(REPO_ROOT)
    transcribed = set()
    for path in result_paths(REPO_ROOT):
        if 'transcribed_from' in renderer.load(path).data:
            transcribed.add(path)
    assert {'docs/demo/demo_transcribed.json',
            'docs/benchmark/benchmark_cuda_h100.json'} <= transcribed
    for name, table in TABLES.items():
        if transcribed & set(table.sources + table.optional):
            block = Block(name, table.inline, '', 0, 0)
            assert 'ranscribed' in renderer.render(block), name


@pytest.fixture
def checkout(tmp_path):
    """A copy of the pages and result files (no plots, no code)."""
    for path in page_paths(REPO_ROOT) + result_paths(REPO_ROOT):
        dst = tmp_path / path
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(osp.join(REPO_ROOT, path), dst)
    return tmp_path


def _edit_json(path, edit):
    with open(path) as f:
        data = json.load(f)
    edit(data)
    with open(path, 'w') as f:
        json.dump(data, f)


def test_a_changed_figure_fails_until_regenerated(checkout):

    def faster(data):
        data['cases'][0]['speedup'] = 9.876

    _edit_json(checkout / 'docs/benchmark/benchmark.json', faster)
    problems = differences(str(checkout))
    assert "README.md: table 'bench_swin_cpu_config_optimizers' differs from " \
        'docs/benchmark/benchmark.json' in problems
    assert "docs/en/benchmark.md: table 'bench_swin_cpu_config_optimizers' differs from " \
        'docs/benchmark/benchmark.json' in problems
    assert len(problems) == 2
    assert sorted(update(str(checkout))) == ['README.md', 'docs/en/benchmark.md']
    assert differences(str(checkout)) == []
    assert '9.88x at 224 px batch 8' in (checkout / 'README.md').read_text()
    assert update(str(checkout)) == []  # nothing left to change


def test_a_changed_transcribed_figure_fails_until_regenerated(checkout):

    def slower(data):
        data['demo_model']['first_compiled_step_s']['empty_cache'] = 300

    _edit_json(checkout / 'docs/benchmark/compile_transcribed.json', slower)
    assert differences(str(checkout)) == [
        "docs/en/torch_compile.md: table 'compile_demo_model' differs from "
        'docs/benchmark/compile_transcribed.json'
    ]

    def earlier_demo(data):
        data['runs'][0]['detectors']['greenmim']['bbox_mAP'] = 0.5

    _edit_json(checkout / 'docs/demo/demo_transcribed.json', earlier_demo)
    problems = differences(str(checkout))
    assert "docs/en/detection.md: table 'demo_detectors' differs from " \
        'docs/demo/demo_transcribed.json' in problems
    assert sorted(update(str(checkout))) == ['docs/en/detection.md', 'docs/en/torch_compile.md']
    assert '| 300 s |' in (checkout / 'docs/en/torch_compile.md').read_text()


def test_a_hand_edited_table_fails(checkout):
    page = checkout / 'docs/en/mixed_precision.md'
    text = page.read_text()
    ratio = re.search(r'\*\*(\d\.\d\d)x\*\*', text).group(1)  # the first bold ratio
    edited = text.replace(f'**{ratio}x**', f'**{float(ratio) + 0.01:.2f}x**', 1)
    assert edited != text
    page.write_text(edited)
    assert differences(str(checkout)) == [
        "docs/en/mixed_precision.md: table 'bench_amp_memory' differs from "
        'docs/benchmark/benchmark_fp32_memory.json, docs/benchmark/benchmark_amp.json'
    ]


def test_unread_result_files_and_unshown_tables_are_reported(checkout):
    (checkout / 'docs/benchmark/new_run.json').write_text('{}')
    page = checkout / 'docs/en/benchmark.md'
    page.write_text(page.read_text().replace('<!-- table:bench_twins_cpu_details -->',
                                             '').replace('<!-- /table:bench_twins_cpu_details -->',
                                                         ''))
    problems = differences(str(checkout))
    assert ('docs/benchmark/new_run.json is read by no table: add an entry to '
            'greenmim_mm/docs_tables/registry.py') in problems
    assert any(p.startswith("table 'bench_twins_cpu_details'") for p in problems)


def test_bad_markers_name_the_page_and_the_fix(checkout):
    page = checkout / 'docs/en/twins.md'
    page.write_text(page.read_text() + '\n<!-- table:no_such_table -->\n'
                    '<!-- /table:no_such_table -->\n')
    problems = differences(str(checkout))
    assert len(problems) == 1
    assert problems[0].startswith("docs/en/twins.md: unknown table 'no_such_table'")
    page.write_text(page.read_text().replace('<!-- /table:no_such_table -->', ''))
    assert 'has no partner' in differences(str(checkout))[0]


def test_a_block_table_written_inline_is_refused(checkout):
    page = checkout / 'docs/en/twins.md'
    page.write_text(page.read_text() + '\nsee <!-- table:bench_twins_cpu --><!-- '
                    '/table:bench_twins_cpu -->\n')
    with pytest.raises(ValueError, match="twins.md: table 'bench_twins_cpu' is a block"):
        Renderer(str(checkout)).page('docs/en/twins.md')


def test_a_missing_result_file_is_named(checkout):
    (checkout / 'docs/benchmark/benchmark_twins.json').unlink()
    problems = differences(str(checkout))
    assert any('docs/benchmark/benchmark_twins.json does not exist' in p for p in problems)


def test_the_command_line(checkout, capsys):
    from greenmim_mm.docs_tables.cli import main
    assert main(['--check'], root=str(checkout)) == 0
    assert main(['--list'], root=str(checkout)) == 0
    assert 'bench_swin_cpu: docs/benchmark/benchmark_same_optimizer.json' in capsys.readouterr().out

    _edit_json(checkout / 'docs/benchmark/benchmark_twins.json',
               lambda d: d['cases'][0].update(speedup=1.5))
    assert main(['--check', '--root', str(checkout)]) == 1
    out = capsys.readouterr()
    assert out.out == ("docs/en/benchmark.md: table 'bench_twins_cpu' differs from "
                       'docs/benchmark/benchmark_twins.json\n')
    assert main([], root=str(checkout)) == 0
    assert capsys.readouterr().out == 'updated docs/en/benchmark.md\n'
    assert '**1.50x**' in (checkout / 'docs/en/benchmark.md').read_text()

    assert main(['--check'], root=str(checkout / 'docs')) == 1  # e.g. an installed copy
    assert 'is not a checkout of greenmim_mm (no README.md)' in capsys.readouterr().err
