"""greenmim_mm.benchmark.op_counts: the ATen operation and cast counter on known steps."""
import pytest
import torch

from greenmim_mm.benchmark.op_counts import count_aten_ops, profile_step, top_ops_by_time


def test_casts_and_bytes_of_known_conversions():
    x = torch.randn(10, 10)
    buf = torch.empty(10, 10, dtype=torch.bfloat16)
    pair = [torch.empty(3, dtype=torch.float16), torch.empty(4, dtype=torch.float64)]

    def step():
        x.to(torch.bfloat16)  # 1 cast, 100 x 2 bytes
        buf.copy_(x)  # 1 cast into a buffer, 200 bytes
        torch._foreach_copy_(pair, [torch.ones(3), torch.ones(4)])  # 2 casts, 6 + 32 bytes
        x.to(torch.float32)  # same dtype: no operation at all
        x.clone()  # a copy, not a cast
        (x + 1).sum()

    counts = count_aten_ops(step)
    assert counts['casts'] == 4
    assert counts['cast_bytes'] == 200 + 200 + 6 + 32
    assert counts['cast_kinds'] == {
        'float32->bfloat16': dict(casts=2, bytes=400),
        'float32->float16': dict(casts=1, bytes=6),
        'float32->float64': dict(casts=1, bytes=32)
    }
    assert counts['transfers'] == 0
    ops = counts['ops']
    assert ops['aten::_to_copy'] == 1 and ops['aten::copy_'] == 1
    assert ops['aten::_foreach_copy_'] == 1 and ops['aten::clone'] == 1
    assert ops['aten::add'] == 1 and ops['aten::sum'] == 1 and ops['aten::ones'] == 2
    assert counts['aten_ops'] == sum(ops.values()) == 8 and counts['other_ops'] == 0


def test_autocast_casts_of_a_training_step():
    """Under bf16 autocast a linear layer's forward casts input, weight and bias once each;
    backward casts the output's gradient to bf16 (the ``.float()``'s backward) and the weight
    and bias gradients back to float32 (the leaves' dtype)."""
    torch.manual_seed(0)
    lin = torch.nn.Linear(8, 4)
    x = torch.randn(5, 8)

    def step(amp):
        with torch.autocast('cpu', dtype=torch.bfloat16, enabled=amp):
            out = lin(x)
        out.float().sum().backward()
        lin.zero_grad(set_to_none=True)

    fp32, bf16 = count_aten_ops(lambda: step(False)), count_aten_ops(lambda: step(True))
    assert fp32['casts'] == 0 and fp32['cast_bytes'] == 0
    # elements: input 40, weight 32, bias 4, output 20
    assert bf16['cast_kinds'] == {
        'float32->bfloat16': dict(casts=4, bytes=2 * (40 + 32 + 4 + 20)),
        'bfloat16->float32': dict(casts=3, bytes=4 * (20 + 32 + 4))
    }
    assert bf16['casts'] == 7 and bf16['ops']['aten::_to_copy'] == 7
    assert bf16['aten_ops'] > fp32['aten_ops'] > 0
    assert 'aten::addmm' in fp32['ops'] and 'aten::linear' not in fp32['ops']


def test_top_ops_by_time_lists_aten_ops():
    a, b = torch.randn(64, 64), torch.randn(64, 64)
    result = top_ops_by_time(lambda: [a @ b for _ in range(3)], top=3)
    assert result['sort_by'] == 'self_cpu' and result['step_s'] > 0
    assert 1 <= len(result['top']) <= 3
    assert all(row['name'].startswith('aten::') for row in result['top'])
    mm = next(row for row in result['top'] if row['name'] == 'aten::mm')
    assert mm['calls'] == 3 and mm['cpu_total_ms'] >= mm['self_cpu_ms'] > 0
    both = profile_step(lambda: a @ b, top=2, ops_listed=1)
    assert both['counts']['aten_ops'] == 1 and list(both['counts']['ops']) == ['aten::mm']


def test_phases_attribute_the_operations_of_a_method():
    lin = torch.nn.Linear(4, 4)
    opt = torch.optim.SGD(lin.parameters(), lr=0.1, momentum=0.9, foreach=False)

    def step():
        lin(torch.randn(2, 4)).sum().backward()
        opt.step()

    step()  # momentum buffers exist from here on
    with_phase = count_aten_ops(step, phases=dict(optimizer=(opt, 'step')))
    assert 'step' not in opt.__dict__  # the class's method again
    without = count_aten_ops(step)
    assert 'phases' not in without and without['aten_ops'] == with_phase['aten_ops']
    # SGD with momentum, per parameter (weight, bias): buffer mul_ and add_, weight add_
    # (optimizer.step's record_function markers are not operations)
    assert with_phase['phases'] == dict(optimizer=2 * 3)
    assert with_phase['other_ops'] == 0


def test_time_split_counts_matrix_products_as_gemms_only():
    a, b, v = torch.randn(128, 128), torch.randn(128, 128), torch.randn(4096)

    def step():
        (a @ b).relu()
        torch.dot(v, v)  # a vector product: memory-bound, not a GEMM
        torch.addmm(a, a, b)

    t = top_ops_by_time(step, top=20)
    assert t['gemm_ops'] == ['aten::addmm', 'aten::mm'] and t['gemm_calls'] == 2
    gemm_rows = [r for r in t['top'] if r['name'] in t['gemm_ops']]
    # the GEMM calls' whole time: their self time and anything they call
    assert (sum(r['self_cpu_ms']
                for r in gemm_rows) - 1e-6 <= t['gemm_ms'] <= sum(r['cpu_total_ms']
                                                                  for r in gemm_rows) + 1e-6)
    assert t['non_gemm_aten_ms'] == pytest.approx(t['aten_self_ms'] - t['gemm_ms'])
    names = {r['name'] for r in t['top_non_gemm']}
    assert {'aten::dot', 'aten::relu'} <= names and not names & {'aten::mm', 'aten::addmm'}


def test_what_a_gemm_calls_is_gemm_time():
    """A fallback bf16 GEMM (CPUs without a bf16 kernel) runs as many small calls inside the
    GEMM's call: they are GEMM time, not time around the GEMMs, and a nested ``mm`` is not a
    second GEMM call."""
    from types import SimpleNamespace

    from greenmim_mm.benchmark.op_counts import _inside_gemm_ids, _outside_gemm_rows

    def event(name, parent, self_us, total_us):
        return SimpleNamespace(
            name=name, cpu_parent=parent, self_cpu_time_total=self_us, cpu_time_total=total_us)

    linear = event('aten::linear', None, 5., 120.)
    bmm = event('aten::bmm', linear, 10., 115.)
    select = event('aten::select', bmm, 5., 5.)
    view = event('aten::as_strided', select, 1., 1.)
    nested = event('aten::mm', bmm, 99., 99.)
    gelu = event('aten::gelu', None, 7., 7.)
    events = [linear, bmm, select, view, nested, gelu]
    inside = _inside_gemm_ids(events)
    assert inside == {id(select), id(view), id(nested)}
    rows = _outside_gemm_rows(events, inside)
    assert [(r['name'], r['calls'], r['self_cpu_ms']) for r in rows] == [('aten::gelu', 1, 0.007),
                                                                         ('aten::linear', 1, 0.005)]
