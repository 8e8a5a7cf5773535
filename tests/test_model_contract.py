"""The model contract and the engine's guards, tried as a new user would.

User models defined here (module level, so the generated loop can import their
kernels): a model whose kernel silently returns NaN, kernels with wrong
signatures, a model with a named event, a model with derived constants; a new
source type written as a class with its own stage, without touching the engine.
"""
import math

import numpy as np
import pytest
from numba import njit

import compsim as cs
from compsim.engine.plan import PHASES, Stage
from compsim.model import Event, Model, Param, Population, Port, Var
from compsim.models import CobaLIF


# -- user models ---------------------------------------------------------------------------------
class Blowup(Model):
    """dv/dt = v / tau: grows without bound and its kernel never flags it (no isfinite check)."""

    params = (Param("tau", 1.0, "ms", "growth time", lo=0.0, lo_open=True),)
    state_vars = (Var("v", "1", "grows", init=1.0),)
    ports = ()

    def constants(self, p, dt, method):
        return {"growth": math.exp(min(dt / p["tau"], 700.0))}

    def kernels(self, method):
        return None, blowup_update


@njit(inline="always")
def blowup_update(i, step, key, c, v):
    return v * c.growth * (1.0 + i), 0


class Burster(Model):
    """Leaky integrator of its input; spikes at v > 1 and emits a 'burst' event when the input exceeds 5."""

    params = (Param("tau", 10.0, "ms", "time constant", lo=0.0, lo_open=True),
              Param("tau_in", 2.0, "ms", "input decay", lo=0.0, lo_open=True, per_copy=False))
    state_vars = (Var("v", "1", "potential"),)
    ports = (Port("drive", "1", "input", ("exponential", "tau_in")),)
    events = (Event("burst", "input above 5 in this step"),)

    def constants(self, p, dt, method):
        return {"decay": math.exp(-dt / p["tau"])}

    def kernels(self, method):
        return None, burster_update


@njit(inline="always")
def burster_update(i, step, key, c, v, drive):
    v = v * c.decay + drive
    spike = v > 1.0
    return (0.0 if spike else v), (1 if spike else 0), (1 if drive > 5.0 else 0)


class WrongArgs(Model):
    state_vars = (Var("v", "1", "potential"),)
    ports = (Port("drive", "1", "input", ("exponential", "tau_in")),)
    params = (Param("tau_in", 2.0, "ms", "input decay", lo=0.0, lo_open=True),)

    def kernels(self, method):
        return None, wrong_args_update


@njit(inline="always")
def wrong_args_update(i, step, key, c, voltage, drive):
    return voltage, 0


class WrongReturns(WrongArgs):
    def kernels(self, method):
        return None, wrong_returns_update


@njit(inline="always")
def wrong_returns_update(i, step, key, c, v, drive):
    return v  # forgot the spike count


class Allocating(WrongArgs):
    def kernels(self, method):
        return None, allocating_update


@njit(inline="always")
def allocating_update(i, step, key, c, v, drive):
    history = np.zeros(2)  # an array per neuron and step: not in the runtime-free loop
    history[0] = v + drive
    return history[0], 0


class ClashingConstant(WrongArgs):
    def constants(self, p, dt, method):
        return {"tau_in": 1.0}

    def kernels(self, method):
        return None, burster_update


# -- a new source type: a class with its own stage, no engine edit ----------------------------------
class RegularSource(Population):
    """Every neuron spikes once every ``period`` steps (a clock)."""

    def __init__(self, n, period, *, name=None):
        super().__init__(n, name=name)
        self.period = int(period)

    def stages(self):
        return [RegularTick(self)] + super().stages()


@njit
def tick(step, period, cnt):
    cnt[0, :, :] = 1 if step % period == 0 else 0


class RegularTick(Stage):
    phase = "sources"
    verb = "tick"

    def emit(self, out):
        name = out.use(tick)
        out.emit(f"{name}(step, {self.subject.period}, {out.array(self.subject.owner, 'cnt')})")


# -- tests ---------------------------------------------------------------------------------------------
def test_user_kernel_returning_nan_stops_with_population_neuron_and_time():
    net = cs.Network(dt=1.0)
    net.add(Blowup(4, tau=0.01), name="boom")  # v grows by e^100 per step: inf after 8 steps
    with pytest.raises(cs.SimulationDiverged) as info:
        net.run(100.0)
    err = info.value
    assert err.population == "boom" and 0 <= err.neuron < 4
    assert 0.0 < err.t_ms < 10.0 and "boom" in str(err) and "non-finite" in str(err)


def test_divergence_reports_the_copy_in_a_batch():
    net = cs.Network(dt=1.0, batch=3)
    net.add(Blowup(5, tau=[1e9, 1e9, 0.01]), name="boom")  # only copy 2 blows up
    with pytest.raises(cs.SimulationDiverged) as info:
        net.run(100.0)
    assert info.value.copy == 2 and info.value.step < 10
    assert "copy 2" in str(info.value)


def test_absurd_step_count_is_an_error_up_front():
    net = cs.Network(dt=1e-300)
    net.add(CobaLIF(2), name="lif")
    with pytest.raises(ValueError, match="steps"):
        net.run(1.0)


def test_delay_ring_that_cannot_fit_in_memory_is_an_error():
    net = cs.Network(dt=0.1)
    a = net.add(CobaLIF(1000), name="a")
    with pytest.raises(ValueError, match="GiB"):
        net.connect(a, a, "ge", 1.0, delay=1e9)


def test_monitor_buffer_that_cannot_fit_in_memory_is_an_error():
    net = cs.Network(dt=0.1, chunk_steps=10**7)
    a = net.add(CobaLIF(100_000), name="a")
    net.record(a, "v")
    with pytest.raises(ValueError, match="GiB"):
        net.run(0.1)


def test_kernel_argument_names_are_checked_with_the_model_named():
    net = cs.Network(dt=0.1)
    net.add(WrongArgs(3), name="w")
    with pytest.raises(ValueError, match=r"WrongArgs 'w'.*argument 5 is 'voltage', expected 'v'"):
        net.run(1.0)


def test_kernel_returning_the_wrong_values_is_named():
    net = cs.Network(dt=0.1)
    net.add(WrongReturns(3), name="w")
    with pytest.raises(ValueError, match=r"WrongReturns 'w': update kernel must return \(v, count\)"):
        net.run(1.0)


def test_kernel_allocating_an_array_is_told_why_it_cannot():
    net = cs.Network(dt=0.1, parallel=False)
    net.add(Allocating(3), name="a")
    with pytest.raises(ValueError, match=r"may not allocate arrays.*\n  Allocating 'a'"):
        net.run(1.0)


def test_old_style_population_with_kernels_is_refused():
    class Old(Population):
        state_vars = (Var("v", "1", "x"),)

        def kernels(self, method):
            return None, "module:function"

    with pytest.raises(ValueError, match="derive from compsim.model.Model"):
        cs.Network().add(Old(2))


def test_derived_constant_may_not_shadow_a_parameter():
    net = cs.Network(dt=0.1)
    net.add(ClashingConstant(2), name="c")
    with pytest.raises(ValueError, match="tau_in"):
        net.run(1.0)


def test_named_events_are_counted_and_recorded():
    net = cs.Network(dt=1.0)
    src = net.add(cs.SpikeTrainSource(2, [0, 0, 1], [3.0, 10.0, 10.0]), name="src")
    pop = net.add(Burster(2), name="pop")
    net.connect(src, pop, "drive", np.array([[6.0, 0.0], [0.0, 3.0]]))
    net.record_events(pop, "burst")
    net.record_spikes(pop)
    res = net.run(20.0)
    burst = res.spikes["pop_burst"]
    # a spike at step s raises the drive read in step s + 1; the drive 6 decays below 5 within a step
    np.testing.assert_array_equal(burst.t, [4.0, 11.0])
    np.testing.assert_array_equal(burst.i, [0, 0])
    assert res.spikes["pop_spikes"].count() >= 2
    with pytest.raises(ValueError, match="unknown event 'plateau'"):
        net.record_events(pop, "plateau")


def test_per_copy_values_only_for_per_copy_parameters():
    with pytest.raises(ValueError, match="'tau_in' cannot take one value per copy"):
        Burster(2, tau_in=[1.0, 2.0])
    net = cs.Network(batch=3)
    with pytest.raises(ValueError, match="'tau' has 2 per-copy values, the network has batch = 3"):
        net.add(Burster(2, tau=[1.0, 2.0]))


def test_a_new_source_class_runs_without_engine_changes():
    net = cs.Network(dt=1.0, batch=2)
    clock = net.add(RegularSource(3, period=5), name="clock")
    net.record_spikes(clock)
    res = net.run(20.0)
    train = res.spikes["clock_spikes"]
    for b in range(2):
        np.testing.assert_array_equal(np.unique(train.of_copy(b).t), [0.0, 5.0, 10.0, 15.0])
    assert "tick clock" in net.schedule


def test_schedule_lists_every_phase_in_order():
    net = cs.Network(dt=0.1)
    src = net.add(cs.PoissonSource(3, 10.0), name="src")
    pop = net.add(CobaLIF(3), name="lif")
    net.connect(src, pop, "ge", 1.0)
    net.record_spikes(pop)
    lines = net.schedule.splitlines()
    assert [line.split()[0] for line in lines] == list(PHASES)
    assert "draw src" in lines[0] and "update lif" in lines[1] and "deliver src -> lif.ge" in lines[3]
    assert lines[4].split()[1] == "-"  # the plasticity slot is empty
    text = net.source
    assert text.index("# --- sources") < text.index("# --- populations") < text.index("# --- delivery")
