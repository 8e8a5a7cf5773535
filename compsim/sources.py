"""Spike sources: Poisson-rate inputs and replayed spike trains.

``PoissonSource(n, rates)``
    In each step neuron ``i`` emits a spike with probability ``rate_i * dt``
    (``spike_mode='bernoulli'``, Brian2's ``PoissonGroup``) or
    ``Poisson(rate_i * dt)`` spikes (``spike_mode='poisson'``, the original
    segregated-dendrite code; ``'poisson_events'``: the same counts by time
    rescaling, random numbers drawn only at spikes, :func:`compsim.rng.poisson_events`).
    ``rates`` (Hz) may be

    * a scalar or an (n,) array: constant rates, the same in every batch copy;
    * a (B, n) array in a network of ``batch = B > 1`` copies: row ``b`` holds
      the constant rates of copy ``b`` (e.g. one image per copy);
    * an (n_steps, n) array (single-copy networks) or an (n_steps, B, n) or
      (n_steps, 1, n) array: entry ``k`` holds the rates of global step ``k``;
    * a callable ``f(t_ms) -> array`` given the times (ms, shape (S,)) of the
      steps of a chunk, returning rates of any shape above with S steps (or
      constant ones): evaluated once per chunk.

    ``set_rates`` changes them between runs (e.g. a new image).
``SpikeTrainSource(n, indices, times)``
    Emits exactly the given spikes (times in ms; a spike at time t is emitted
    in step ``floor(t / dt)``, as Brian2's ``SpikeGeneratorGroup``). Spikes
    earlier than the network's time when the source is first run are skipped.
"""
import numpy as np

from .checks import check_array, check_number, index_array
from .units import magnitude
from .engine import kernels
from .engine.plan import Stage
from .model import Param, Population, Var, check_spike_mode
from .rng import BERNOULLI, POISSON, draw_spikes, integrate_intensity


class PoissonSource(Population):
    """Independent Poisson spike trains with given rates (Hz)."""

    update_phase = "sources"

    def __init__(self, n, rates=0.0, *, spike_mode="bernoulli", name=None):
        super().__init__(n, name=name)
        self.spike_mode = check_spike_mode(spike_mode, "PoissonSource")
        self.mode_code = BERNOULLI if spike_mode == "bernoulli" else POISSON
        self._given = None
        self._rates = None  # callable, or array (S, copies, n); S = 1 when constant
        self._constant = True
        self.set_rates(rates)

    @classmethod
    def from_image(cls, image, max_rate=200.0, **kwargs):
        """One neuron per pixel, rate ``max_rate * pixel`` (pixels in [0, 1])."""
        img = np.asarray(image, dtype=np.float64).ravel()
        src = cls(img.size, **kwargs)
        src.set_image(img, max_rate)
        return src

    def set_image(self, image, max_rate=200.0):
        """Rates ``max_rate * pixel`` for an image with pixel values in [0, 1]; (B, n) gives one image per copy."""
        img = np.asarray(image, dtype=np.float64)
        shape = (img.shape[0], self.n) if img.ndim == 2 else (self.n,)
        img = check_array("image", img.reshape(shape), shape, lo=0.0, hi=1.0, owner="PoissonSource")
        if img.ndim == 2 and img.shape[0] != self.batch:
            raise ValueError(f"PoissonSource '{self.name}': parameter 'image' has {img.shape[0]} rows, "
                             f"the network has batch = {self.batch} copies; give (n,) or ({self.batch}, {self.n})")
        self.set_rates(max_rate * img)

    def set_rates(self, rates):
        """Replace the rates (Hz): scalar, (n,), (B, n), (n_steps, n), (n_steps, B, n) or callable (module doc)."""
        if not callable(rates):
            rates = magnitude(rates, "Hz", "PoissonSource: parameter 'rates'")
        if not callable(rates) and np.ndim(rates) >= 2:  # checked now; interpreted once the batch size is known
            rates = check_array("rates", rates, np.shape(rates), lo=0.0, owner="PoissonSource")
            if rates.shape[-1] != self.n:
                raise ValueError(f"PoissonSource: parameter 'rates' must have {self.n} columns (one per neuron), "
                                 f"got shape {rates.shape}")
        self._given = rates
        if self.network is not None or callable(rates) or np.ndim(rates) < 2:
            self._rates, self._constant = self._normalise(rates)

    def rates_buffer(self, max_rate):
        """Switch to constant per-copy rates held in one zero-filled array (1, B, n) (Hz) and return it.

        For protocols that change the rates from inside the compiled loop
        (e.g. a new image per copy at the start of a phase); ``max_rate`` (Hz)
        is the largest rate they will write (checked against the spike mode).
        """
        if self.network is None:
            raise ValueError(f"PoissonSource '{self.name}': rates_buffer needs the source to be in a network")
        self._check_bernoulli(np.array([check_number("max_rate", max_rate, lo=0.0, unit="Hz", owner="rates_buffer")]))
        buffer = np.zeros((1, self.batch, self.n))
        self._given, self._rates, self._constant = buffer, buffer, True
        return buffer

    def _normalise(self, rates, source=""):
        """``(array (S, copies, n) or callable, constant)`` for the network's batch size."""
        if callable(rates):
            return rates, False
        what = "rates"
        owner = (f"PoissonSource '{self.name}'" if self.name else "PoissonSource") + source
        arr = np.asarray(rates, dtype=np.float64)
        batch = self.batch
        if arr.ndim <= 1:
            arr, constant = check_array(what, arr, (self.n,), lo=0.0, owner=owner)[None, None, :], True
        elif arr.ndim == 2 and batch > 1:
            if arr.shape != (batch, self.n):
                raise ValueError(f"{owner}: parameter '{what}' must have shape ({batch}, {self.n}) (one row per copy) "
                                 f"in a network of batch = {batch}, got {arr.shape}; per-step rates are "
                                 f"(n_steps, {batch}, {self.n})")
            arr, constant = check_array(what, arr, arr.shape, lo=0.0, owner=owner)[None], True
        elif arr.ndim == 2:
            if arr.shape[1] != self.n:
                raise ValueError(f"{owner}: parameter '{what}' must have shape (n_steps, {self.n}), got {arr.shape}")
            arr, constant = check_array(what, arr, arr.shape, lo=0.0, owner=owner)[:, None, :], False
        elif arr.ndim == 3 and arr.shape[1] in (1, batch) and arr.shape[2] == self.n:
            arr, constant = check_array(what, arr, arr.shape, lo=0.0, owner=owner), False
        else:
            raise ValueError(f"{owner}: parameter '{what}' must have shape (n,), (B, n), (n_steps, n) or "
                             f"(n_steps, B, n) with n = {self.n}, B = {batch}; got {arr.shape}")
        self._check_bernoulli(arr)
        return arr, constant

    def _check_bernoulli(self, rates):
        if self.network is not None and self.spike_mode == "bernoulli":
            top = float(rates.max()) if rates.size else 0.0
            if top * self.network.dt / 1000.0 > 1.0:
                raise ValueError(
                    f"PoissonSource '{self.name}': parameter 'rates' times dt must be <= 1 for spike_mode='bernoulli' "
                    f"(max rate {top} Hz, dt {self.network.dt} ms); use spike_mode='poisson' or a smaller dt"
                )

    def _declare(self, store, batch, dtype):
        super()._declare(store, batch, dtype)
        store.declare(self.owner, "rates", (1, 1, self.n), np.float64, kind="scratch",
                      doc=f"rates (Hz) of '{self.name}' for the steps of the current chunk")

    def validate(self, dt):
        if self._rates is None or self._rates is not self._given:
            self._rates, self._constant = self._normalise(self._given)

    def stages(self):
        return [PoissonDraw(self)] + super().stages()

    def check_covers(self, step_end):
        """Raise before a run if a per-step ``rates`` array ends before step ``step_end``."""
        if not callable(self._rates) and not self._constant and step_end > self._rates.shape[0]:
            raise ValueError(
                f"PoissonSource '{self.name}': the 'rates' array covers {self._rates.shape[0]} steps, "
                f"the run needs steps up to {step_end}"
            )

    def rates_for(self, step0, n_steps, dt):
        """Rates (Hz) for steps ``step0 .. step0 + n_steps - 1``: array (n_steps or 1, copies, n)."""
        rates = self._rates
        if callable(rates):
            t = (step0 + np.arange(n_steps)) * dt
            arr, constant = self._normalise(rates(t), " (callable)")
            if not constant and arr.shape[0] != n_steps:
                raise ValueError(f"PoissonSource '{self.name}': the rates callable returned {arr.shape[0]} steps "
                                 f"for a chunk of {n_steps}")
            return arr
        if self._constant:
            return rates
        self.check_covers(step0 + n_steps)
        return rates[step0 : step0 + n_steps]

    def checkpoint_items(self):
        """What a checkpoint keeps besides the store: the configured rates (a callable stays with the script)."""
        return {} if callable(self._rates) else {"rates": self._rates, "constant": np.int8(self._constant)}

    def restore_items(self, items):
        """Take back the rates saved by :meth:`checkpoint_items`."""
        if "rates" in items:
            rates = np.asarray(items["rates"], dtype=np.float64)
            self._given, self._rates, self._constant = rates, rates, bool(items["constant"])

    def describe(self):
        d = super().describe()
        d["spike_mode"] = self.spike_mode
        if not callable(self._rates) and self._rates is not None:
            d["mean_rate_hz"] = float(self._rates.mean())
        return d


class PoissonDraw(Stage):
    """Phase ``sources``: each neuron of each copy draws its spikes for the step."""

    phase = "sources"
    verb = "draw"

    def before_run(self, network, step_end):
        self.subject.check_covers(step_end)

    def before_chunk(self, network, step0, n_steps):
        src = self.subject
        network.store.adopt(src.owner, "rates", src.rates_for(step0, n_steps, network.dt), kind="scratch",
                            doc=f"rates (Hz) of '{src.name}' for the steps of the current chunk")

    def emit(self, out):
        src = self.subject
        threaded_copies = src.owner in out.parallel and src.batch > 1  # else a threaded neuron loop, if any
        f, per_copy = self._copy_lines(out, src.owner in out.parallel, own_helper=threaded_copies)
        f.emit_copies(f"{f.array(src.owner, 'cnt')}.shape[1]", per_copy, ("step", "s", "dt", "keys"), threaded_copies)
        out.add_function(f)
        out.comment(f"source {src.index}: {src.name} (PoissonSource)")
        out.emit(f.call("step", "s", "dt", f"keys[{src.index}]"))

    def per_copy(self):
        return True

    def emit_copy(self, out):
        src = self.subject
        f, per_copy = self._copy_lines(out, False, own_helper=True)
        out.comment(f"source {src.index}: {src.name} (PoissonSource)")
        out.emit(f.copy_helper(per_copy, ("step", "s", "dt", "keys")).call("b", "step", "s", "dt", f"keys[{src.index}]"))

    def _copy_lines(self, out, parallel, own_helper):
        """The step function ``f`` being written and the lines drawing copy ``b``'s spikes (``own_helper``: for a
        serial helper of their own)."""
        src = self.subject
        f = out.function(f"step_pop{src.index}", ("step", "s", "dt", "keys"), parallel=parallel, refcounts=False)
        cnt, rates = f.array(src.owner, "cnt"), f.array(src.owner, "rates")
        neuron_loop = "range" if own_helper else f.loop
        per_copy = [f"row = s if {rates}.shape[0] > 1 else 0",
                    f"rate = {rates}[row, b * (1 if {rates}.shape[1] > 1 else 0)]",
                    f"counts = {cnt}[0, b]", "key = keys[b]"]
        if src.spike_mode == "poisson_events":  # integrate; the neurons reaching their threshold count exactly
            per_copy += [f"acc = {f.array(src.owner, 'spike_acc')}[b]", f"thr = {f.array(src.owner, 'spike_thr')}[b]",
                         f"for i in {neuron_loop}(counts.shape[0]):",
                         f"    counts[i] = {out.use(integrate_intensity)}(acc, thr, i, rate[i] * dt * 1e-3)",
                         src.emit_poisson_events(f, "acc", "thr", "counts")]
        else:
            per_copy += [f"for i in {neuron_loop}(counts.shape[0]):",
                         f"    counts[i] = {out.use(draw_spikes)}(rate[i] * dt * 1e-3, {src.mode_code}, key, i, step)"]
        return f, per_copy

    def emit_cuda(self, out):
        """One thread per neuron and copy; in spike mode ``'poisson_events'`` then one per copy for the draws."""
        src = self.subject
        cnt, rates = out.array(src.owner, "cnt"), out.array(src.owner, "rates")
        out.comment(f"source {src.index}: {src.name} (PoissonSource)")
        out.grid_loop("cell", f"{src.batch * src.n}")
        out.emit_all([f"b = cell // {src.n}", f"i = cell % {src.n}",
                      f"lam = {rates}[s if {rates}.shape[0] > 1 else 0, b if {rates}.shape[1] > 1 else 0, i] * dt * 1e-3"], 1)
        if src.spike_mode == "poisson_events":
            acc, thr = out.array(src.owner, "spike_acc"), out.array(src.owner, "spike_thr")
            out.emit(f"{cnt}[0, b, i] = {out.use(integrate_intensity)}({acc}[b], {thr}[b], i, lam)", 1)
            out.barrier()
            out.grid_loop("b", f"{src.batch}")
            out.emit(f"key = keys[{src.index}, b]", 1)
            out.emit(src.emit_poisson_events(out, f"{acc}[b]", f"{thr}[b]", f"{cnt}[0, b]"), 1)
        else:
            out.emit(f"{cnt}[0, b, i] = {out.use(draw_spikes)}(lam, {src.mode_code}, keys[{src.index}, b], i, step)", 1)
        out.end_stage()


class SpikeTrainSource(Population):
    """Replays given spikes: neuron ``indices[k]`` spikes at ``times[k]`` (ms), in every copy."""

    update_phase = "sources"

    def __init__(self, n, indices, times, *, name=None):
        super().__init__(n, name=name)
        self.indices = index_array("indices", indices, self.n, owner="SpikeTrainSource")
        times = magnitude(times, "ms", "SpikeTrainSource: parameter 'times'")
        self.times = check_array("times", times, np.shape(np.ravel(times)), lo=0.0, owner="SpikeTrainSource")
        if self.indices.shape != self.times.shape:
            raise ValueError(
                f"SpikeTrainSource: 'indices' and 'times' must have the same length, got {self.indices.size} "
                f"and {self.times.size}"
            )

    def _declare(self, store, batch, dtype):
        super()._declare(store, batch, dtype)
        store.declare(self.owner, "cursor", (1,), np.int64, kind="state",
                      doc=f"position of '{self.name}' in its spike list")
        # step of each spike: floor(t / dt) with Brian2's tolerance of 1e-3 dt for times on the grid
        steps = np.floor(self.times / self.network.dt + 1e-3).astype(np.int64)
        order = np.lexsort((self.indices, steps))
        store.adopt(self.owner, "spike_steps", steps[order], kind="scratch", doc=f"steps of the spikes of '{self.name}'")
        store.adopt(self.owner, "spike_neurons", self.indices[order], kind="scratch",
                    doc=f"neurons of the spikes of '{self.name}'")

    def stages(self):
        return [SpikeReplay(self)] + super().stages()

    def describe(self):
        d = super().describe()
        d["n_spikes"] = int(self.indices.size)
        return d


class SpikeReplay(Stage):
    """Phase ``sources``: emit the given spikes due in this step."""

    phase = "sources"
    verb = "replay"

    def emit(self, out):
        own = self.subject.owner
        replay = out.use(kernels.replay_spikes)
        args = [out.array(own, f) for f in ("spike_steps", "spike_neurons", "cursor", "cnt")]
        out.comment(f"source {self.subject.index}: {self.subject.name} (SpikeTrainSource)")
        out.emit(f"{replay}(step, {', '.join(args)})")

    def emit_cuda(self, out):
        """A thread per neuron and copy clears the counts; then a thread per copy counts the step's spikes; then
        thread 0 moves the cursor past them."""
        src = self.subject
        sp_step, sp_idx, cursor, cnt = (out.array(src.owner, f)
                                        for f in ("spike_steps", "spike_neurons", "cursor", "cnt"))
        out.comment(f"source {src.index}: {src.name} (SpikeTrainSource)")
        out.grid_loop("cell", f"{src.batch * src.n}")
        out.emit(f"{cnt}[0, cell // {src.n}, cell % {src.n}] = 0", 1)

        def count(out):
            out.emit(f"due_first, due_end = {out.use(kernels.due_spikes)}(step, {sp_step}, {cursor}[0])")
            out.grid_loop("b", f"{src.batch}")
            out.emit(f"{out.use(kernels.replay_copy)}(b, {sp_idx}, due_first, due_end, {cnt}[0])", 1)

        def advance(out):
            out.emit("if tid == 0:")
            out.emit(f"{cursor}[0] = due_end", 1)
        out.after_barrier(count, advance)
        out.end_stage()


class ActivitySource(Population):
    """Fixed graded activities ``p`` in [0, 1] (e.g. an image's pixels) that rate populations read every step.

    Projections from it transmit ``p`` itself (graded), not spikes; ``valence``
    (+1 excitatory, -1 inhibitory) is the sign Dale's law gives all its
    synapses. Set new activities between runs with ``src["p"] = values``
    ((n,) for every copy or (B, n), one row per copy).
    """

    params = (Param("valence", 1.0, "1", "+1 excitatory, -1 inhibitory: the sign of all its synapses", lo=-1.0,
                    hi=1.0, per_copy=False),)
    state_vars = (Var("p", "1", "activity in [0, 1]", role="param"),)
    spiking = False
    activity = "p"

    def __init__(self, n, p=0.0, *, valence=1.0, name=None):
        super().__init__(n, name=name, valence=valence)
        if self.p["valence"] not in (-1.0, 1.0):
            raise ValueError(f"ActivitySource: parameter 'valence' must be +1 or -1, got {self.p['valence']}")
        self._initial = check_array("p", p, np.shape(p), lo=0.0, hi=1.0, owner="ActivitySource")

    def _declare(self, store, batch, dtype):
        super()._declare(store, batch, dtype)
        self["p"] = self._initial

    def __setitem__(self, name, value):
        if name == "p":
            check_array("p", value, np.shape(value), lo=0.0, hi=1.0, owner=f"ActivitySource '{self.name}'")
        super().__setitem__(name, value)

    def stages(self):
        return []  # constant until the user sets new activities
