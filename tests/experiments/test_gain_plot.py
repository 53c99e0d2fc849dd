"""greenmim_mm.experiments.gain_plot: the plot of a run."""
from greenmim_mm.experiments.gain_plot import plot_results
from tests.helpers import fake_gain_results


def test_plot_of_a_run(tmp_path):
    path = tmp_path / 'p.png'
    plot_results(fake_gain_results(), str(path))
    assert path.read_bytes()[:4] == b'\x89PNG'
