"""Spike sources: Poisson-rate inputs and replayed spike trains.

``PoissonSource(n, rates)``
    In each step neuron ``i`` emits a spike with probability ``rate_i * dt``
    (``spike_mode='bernoulli'``, Brian2's ``PoissonGroup``) or
    ``Poisson(rate_i * dt)`` spikes (``spike_mode='poisson'``, the original
    segregated-dendrite code). ``rates`` (Hz) may be

    * a scalar or an (n,) array: constant rates;
    * an (n_steps, n) array: row ``k`` holds the rates of global step ``k``;
    * a callable ``f(t_ms) -> array`` given the times (ms, shape (S,)) of the
      steps of a chunk, returning (S, n) or (n,) rates: evaluated once per chunk.

    ``set_rates`` changes them between runs (e.g. a new image).
``SpikeTrainSource(n, indices, times)``
    Emits exactly the given spikes (times in ms; a spike at time t is emitted
    in step ``floor(t / dt)``, as Brian2's ``SpikeGeneratorGroup``). Spikes
    earlier than the network's time when the source is first run are skipped.
"""
import numpy as np

from .checks import check_array, index_array
from .model import Population, check_spike_mode
from .rng import BERNOULLI, POISSON


class PoissonSource(Population):
    """Independent Poisson spike trains with given rates (Hz)."""

    kind = "poisson_source"

    def __init__(self, n, rates=0.0, *, spike_mode="bernoulli", name=None):
        super().__init__(n, name=name)
        self.spike_mode = check_spike_mode(spike_mode, "PoissonSource")
        self.mode_code = BERNOULLI if spike_mode == "bernoulli" else POISSON
        self._rates = None
        self.set_rates(rates)

    @classmethod
    def from_image(cls, image, max_rate=200.0, **kwargs):
        """One neuron per pixel, rate ``max_rate * pixel`` (pixels in [0, 1])."""
        img = np.asarray(image, dtype=np.float64).ravel()
        src = cls(img.size, **kwargs)
        src.set_image(img, max_rate)
        return src

    def set_image(self, image, max_rate=200.0):
        """Rates ``max_rate * pixel`` for an image with pixel values in [0, 1]."""
        img = check_array("image", np.asarray(image, dtype=np.float64).ravel(), (self.n,), lo=0.0, hi=1.0,
                          owner="PoissonSource")
        self.set_rates(max_rate * img)

    def set_rates(self, rates):
        """Replace the rates (Hz): scalar, (n,), (n_steps, n) or callable (see module doc)."""
        self._constant = False
        if callable(rates):
            self._rates = rates
            return
        arr = np.asarray(rates, dtype=np.float64)
        if arr.ndim == 2:
            if arr.shape[1] != self.n:
                raise ValueError(f"PoissonSource: parameter 'rates' must have shape (n_steps, {self.n}), got {arr.shape}")
            arr = check_array("rates", arr, arr.shape, lo=0.0, owner="PoissonSource")
        else:
            arr = check_array("rates", arr, (self.n,), lo=0.0, owner="PoissonSource")[None, :]
            self._constant = True
        self._check_bernoulli(arr)
        self._rates = arr

    def _check_bernoulli(self, rates):
        if self.network is not None and self.spike_mode == "bernoulli":
            top = float(rates.max()) if rates.size else 0.0
            if top * self.network.dt / 1000.0 > 1.0:
                raise ValueError(
                    f"PoissonSource '{self.name}': parameter 'rates' times dt must be <= 1 for spike_mode='bernoulli' "
                    f"(max rate {top} Hz, dt {self.network.dt} ms); use spike_mode='poisson' or a smaller dt"
                )

    def validate(self, dt):
        if not callable(self._rates):
            self._check_bernoulli(self._rates)

    def check_covers(self, step_end):
        """Raise before a run if a per-step ``rates`` array ends before step ``step_end``."""
        if not callable(self._rates) and not self._constant and step_end > self._rates.shape[0]:
            raise ValueError(
                f"PoissonSource '{self.name}': the 'rates' array covers {self._rates.shape[0]} steps, "
                f"the run needs steps up to {step_end}"
            )

    def rates_for(self, step0, n_steps, dt):
        """Rates (Hz) for steps ``step0 .. step0 + n_steps - 1``: array (n_steps, n), or (1, n) if constant."""
        rates = self._rates
        if callable(rates):
            t = (step0 + np.arange(n_steps)) * dt
            arr = np.asarray(rates(t), dtype=np.float64)
            shape = (n_steps, self.n) if arr.ndim == 2 else (1, self.n)  # scalar or (n,): constant over the chunk
            arr = check_array("rates", arr, shape, lo=0.0, owner=f"PoissonSource '{self.name}' (callable)")
            self._check_bernoulli(arr)
            return arr
        if self._constant:
            return rates
        self.check_covers(step0 + n_steps)
        return rates[step0 : step0 + n_steps]

    def describe(self):
        d = super().describe()
        d["spike_mode"] = self.spike_mode
        if not callable(self._rates):
            d["mean_rate_hz"] = float(self._rates.mean())
        return d


class SpikeTrainSource(Population):
    """Replays given spikes: neuron ``indices[k]`` spikes at ``times[k]`` (ms)."""

    kind = "spike_train_source"

    def __init__(self, n, indices, times, *, name=None):
        super().__init__(n, name=name)
        self.indices = index_array("indices", indices, self.n, owner="SpikeTrainSource")
        self.times = check_array("times", times, np.shape(np.ravel(times)), lo=0.0, owner="SpikeTrainSource")
        if self.indices.shape != self.times.shape:
            raise ValueError(
                f"SpikeTrainSource: 'indices' and 'times' must have the same length, got {self.indices.size} "
                f"and {self.times.size}"
            )
        self.ptr = np.zeros(1, dtype=np.int64)

    def validate(self, dt):
        # step of each spike: floor(t / dt) with Brian2's tolerance of 1e-3 dt for times on the grid
        steps = np.floor(self.times / dt + 1e-3).astype(np.int64)
        order = np.lexsort((self.indices, steps))
        self.sp_step = steps[order]
        self.sp_idx = self.indices[order]

    def describe(self):
        d = super().describe()
        d["n_spikes"] = int(self.indices.size)
        return d
