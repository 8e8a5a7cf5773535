"""Present a sequence of images to a Poisson input layer, one fixed-length phase each.

For each image the input rates are set to ``max_rate * pixel`` (Hz), the
network runs for ``phase_ms``, and the somatic potential of the output
population is averaged over the last ``average_ms`` of the phase (the
paper's test phase: prediction = argmax of the mean output potential).
State is optionally cleared between images, as in the original code's test
mode.
"""
from dataclasses import dataclass

import numpy as np

from compsim.checks import check_positive


@dataclass
class PresentationResult:
    """Per image: mean output somatic potential (n_images, n_out), predictions and labels."""

    mean_output: np.ndarray
    predictions: np.ndarray
    labels: np.ndarray | None

    @property
    def accuracy(self):
        """Fraction of correct predictions (nan without labels)."""
        if self.labels is None:
            return float("nan")
        return float(np.mean(self.predictions == self.labels))


def present_images(net, source, output, images, *, labels=None, phase_ms=100.0, average_ms=50.0,
                   max_rate=200.0, clear_state=True, progress=False):
    """Show ``images`` (n_images, n_pixels in [0, 1]) one after the other.

    ``source`` is the network's :class:`compsim.PoissonSource`, ``output`` the
    population whose ``v_soma`` is averaged. Recording monitors of ``net``
    keep recording across images. Returns a :class:`PresentationResult`.
    """
    phase_ms = check_positive("phase_ms", phase_ms, "ms", owner="present_images")
    average_ms = check_positive("average_ms", average_ms, "ms", owner="present_images")
    if average_ms > phase_ms:
        raise ValueError(f"present_images: 'average_ms' must be <= phase_ms ({phase_ms}), got {average_ms}")
    images = np.asarray(images, dtype=np.float64).reshape(len(images), -1)
    averager = next((m for m in net.monitors if getattr(m, "name", "") == f"{output.name}_presentation"), None)
    if averager is None:
        averager = net.average(output, ["v_soma"], name=f"{output.name}_presentation")
    mean_output = np.zeros((len(images), output.n))
    for k, image in enumerate(images):
        if clear_state:
            _clear(net)
        source.set_image(image, max_rate)
        net.mark(f"image {k}" if labels is None else f"image {k} ({labels[k]})")
        net.run(phase_ms - average_ms)
        averager.reset()
        net.run(average_ms)
        mean_output[k] = averager.mean("v_soma")
        if progress:
            print(f"image {k + 1}/{len(images)}: predicted {int(np.argmax(mean_output[k]))}", flush=True)
    labels = None if labels is None else np.asarray(labels)
    return PresentationResult(mean_output, np.argmax(mean_output, axis=1), labels)


def _clear(net):
    """Reset somatic potentials and synaptic traces (the original code's ``clear_vars``)."""
    for p in net.populations:
        if "v_soma" in p.var_names:
            p["v_soma"] = 0.0
    net.clear_synaptic_input()
