"""``same_step=True`` projections: this step's spikes act in this step, layer by layer."""
import numpy as np
import pytest

import compsim as cs
from compsim.models import CobaLIF


def chain(same_step, synapse=None, connectivity=None):
    """source -> a -> b, each weight strong enough that one spike makes the next layer spike."""
    net = cs.Network(dt=0.1, seed=1)
    src = net.add(cs.SpikeTrainSource(1, [0, 0], [1.0, 5.0]), name="src")
    a = net.add(CobaLIF(1, E_l=-60.0, v_th=-50.0, v_reset=-60.0, tau_e=5.0), name="a")
    b = net.add(CobaLIF(1, E_l=-60.0, v_th=-50.0, v_reset=-60.0, tau_e=5.0), name="b")
    kw = dict(same_step=same_step, synapse=synapse, connectivity=connectivity)
    net.connect(src, a, "I", 1e6 * np.ones((1, 1)) if connectivity is None else 1e6 * np.ones(1), **kw)
    net.connect(a, b, "I", 1e6 * np.ones((1, 1)) if connectivity is None else 1e6 * np.ones(1), **kw)
    for p in (a, b):
        net.record_spikes(p, name=p.name)
    res = net.run(8.0)
    return net, [res.spikes[p.name].t for p in (a, b)]


@pytest.mark.parametrize("synapse", [None, cs.DoubleExponential(1.0, 5.0)])
def test_same_step_shifts_each_layer_by_one_step(synapse):
    _, (ta_next, tb_next) = chain(False, synapse)
    net, (ta_same, tb_same) = chain(True, synapse)
    assert ta_next.size == 2 and tb_next.size == 2
    np.testing.assert_allclose(ta_next, ta_same + 0.1)  # the source's spike acts one step earlier
    np.testing.assert_allclose(tb_next, tb_same + 0.2)  # and so does a's, on top
    if synapse is None:  # an exponential kernel acts at once: b spikes in the step a does
        np.testing.assert_allclose(tb_same, ta_same)
    plan = net.schedule
    assert plan.index("collect a") < plan.index("update b")


def test_same_step_sparse_equals_dense():
    _, dense = chain(True)
    _, sparse = chain(True, connectivity=cs.Explicit([0], [0]))
    for d, s in zip(dense, sparse):
        np.testing.assert_array_equal(d, s)


def test_same_step_refused_where_the_schedule_cannot_honour_it():
    net = cs.Network(dt=0.1)
    a = net.add(CobaLIF(2), name="a")
    b = net.add(CobaLIF(2), name="b")
    with pytest.raises(ValueError, match="'a' updated before 'b'|'b' updated before 'a'"):
        net.connect(b, a, "ge", 1.0, same_step=True)
    with pytest.raises(ValueError, match="delay 0"):
        net.connect(a, b, "ge", 1.0, same_step=True, delay=1.0)
    with pytest.raises(ValueError, match="'same_step' must be True or False"):
        net.connect(a, b, "ge", 1.0, same_step="yes")


def test_a_checkpoint_does_not_restore_across_schedules(tmp_path):
    same, _ = chain(True)
    same.save_checkpoint(tmp_path / "c.h5")
    nxt, _ = chain(False)
    with pytest.raises(ValueError, match="same_step"):
        nxt.restore_checkpoint(tmp_path / "c.h5")
