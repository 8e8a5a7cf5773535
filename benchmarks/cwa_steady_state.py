"""Steady-state throughput of a CWA network (784-2000-2000-10) next to the same-size affine network, images/s.

    python benchmarks/cwa_steady_state.py [--batch 1000] [--repeats 5] [--dtype float32]

Both are forward passes over a batch of the embedded MNIST digits (NumPy, BLAS
for the matrix products): the CWA layers compute the closed-form fixed point
of the conductance equation (two matrix products per layer: numerator and
denominator), the affine layers one. Also timed: :func:`compsim.models.cwa.steady_state`
on the same trained-shape network built in the engine (one ConductanceNeuron
population per valence and layer), which is what a user of the engine calls.
Untrained weights (speed does not depend on them). Prints the median of the repeats.
"""
import argparse
import time

import numpy as np

from compsim.data.mnist import load_split
from compsim.models.cwa import steady_state
from compsim.protocols.cwa_mnist import build_model, engine_network


def median_rate(fn, images, repeats):
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return images / float(np.median(times))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    args = ap.parse_args()
    dtype = np.dtype(args.dtype)
    _, _, x, _ = load_split(n_test=args.batch)
    rates = {}
    for kind in ("cwa", "affine"):
        model, prepare = build_model(kind, (2000, 2000), dtype=dtype)
        inputs = prepare(x)
        rates[kind] = median_rate(lambda: model.forward(inputs), len(x), args.repeats)
    model, _ = build_model("cwa", (2000, 2000), dtype=np.float64)
    net, _ = engine_network(model, x[:1])
    sources = [p for p in net.populations if p.activity is not None and p.name.startswith("input")]
    many = {s: np.clip(x, 0.0, 1.0) for s in sources}
    rates["engine steady_state (float64)"] = median_rate(lambda: steady_state(net, many), len(x), args.repeats)
    print(f"784-2000-2000-10, batch {len(x)} embedded digits, {args.dtype}, median of {args.repeats}")
    for name, rate in rates.items():
        print(f"  {name:32s} {rate:10.0f} images/s")
    print(f"  CWA / affine throughput: {rates['cwa'] / rates['affine']:.2f}")


if __name__ == "__main__":
    main()
