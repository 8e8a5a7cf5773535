"""How compsim scales with network size, on each backend that can run here: COBA, the segregated-dendrite
network and COBAHH.

    python benchmarks/scale.py [--coba 1000,10000,100000,1000000] [--segdend 1,8,64,512]
                               [--cobahh 1024000] [--duration-ms 100] [--backends cpu,cuda] [--threads 1]

* **COBA** (:func:`compsim.models.coba.build_coba`): ``n`` conductance-based LIF neurons, 80 % excitatory,
  each receiving on average 80 synapses (connection probability ``0.02 * 4000 / n``), dt 0.1 ms.
* **Segregated-dendrite network** (:func:`compsim.models.segdend.build_segregated_network`): the
  784-500-10 network of Guerguiev et al. at dt 1 ms, Poisson inputs at ``200 Hz * pixel`` of an MNIST
  digit, scaled by its batch axis: ``B`` independent copies (1,294 neurons each) in one network.
* **COBAHH** (:func:`compsim.models.cobahh.build_cobahh`): Hodgkin-Huxley somas with COBA's wiring;
  only on a GPU by default (the published Brian2GeNN figures at 1.024 million neurons: 15.2 s per
  biological second on a TITAN Xp, 9.8 s on a V100; C++ on 24 threads 257 s).

For each size and backend the network is built and run once untimed (compilation, or loading the
cached code: reported as ``compile_s``), then the timed run of ``--duration-ms`` follows. Printed per
row: neurons, synapses, the wall time of the run, neuron-steps per second, synaptic events per second
(spikes times their synapses, delivered per second of wall time) and the real-time factor (wall
seconds per simulated second). A backend that cannot run here is named with the reason (``cuda``
without a GPU: numba's simulator is for correctness, not speed, and is not timed).
"""
import argparse
import time

import numba
import numpy as np

from compsim.data.mnist import load_mnist
from compsim.engine import cuda
from compsim.models.coba import build_coba
from compsim.models.cobahh import build_cobahh
from compsim.models.segdend import build_segregated_network


def synaptic_events(net, result):
    """Spikes times their outgoing synapses (all copies), from the spike monitors of ``result``."""
    events = 0
    for train in result.spikes.values():
        pre = next(p for p in net.populations if p.name == train.population)
        counts = np.bincount(train.i.astype(np.int64), minlength=pre.n)
        for j in net.projections:
            if j.pre is pre:
                per_pre = j.store.get(j.owner, "wt").shape[1] * np.ones(pre.n) if j.kind == "dense" else \
                    np.diff(j.store.get(j.owner, "indptr"))
                events += int(counts @ per_pre)
    return events


def n_synapses(net):
    return sum(int(j.n_synapses) for j in net.projections)


def measure(build, duration_ms):
    """Compile (or load) with a first network run for 10 steps; build the measured one, run it timed."""
    warm = build()
    t0 = time.perf_counter()
    warm.run(warm.dt * 10)
    compile_s = time.perf_counter() - t0
    del warm
    t0 = time.perf_counter()
    net = build()
    net.build()  # generates and loads the (cached) loop: not part of the timed run
    setup_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    result = net.run(duration_ms)
    wall = time.perf_counter() - t0
    neurons = sum(p.n * p.batch for p in net.populations)
    steps = round(duration_ms / net.dt)
    return {"neurons": neurons, "synapses": n_synapses(net), "setup_s": setup_s, "compile_s": compile_s,
            "wall_s": wall, "neuron_steps_per_s": neurons * steps / wall,
            "events_per_s": synaptic_events(net, result) / wall, "realtime_factor": wall / (duration_ms * 1e-3)}


def coba(n, backend, threads):
    return lambda: build_coba(n, seed=1, backend=backend, threads=threads, parallel=threads > 1,
                              chunk_steps=1000).net


def segdend(batch, backend, threads):
    def build():
        images, _ = load_mnist(batch)
        seg = build_segregated_network(500, seed=0, dt=1.0, batch=batch, backend=backend, threads=threads,
                                       parallel=threads > 1, spike_mode="poisson_events", chunk_steps=1000)
        seg.inp.set_image(images if batch > 1 else images[0])
        for pop in (seg.inp, *seg.hidden, seg.out):
            seg.net.record_spikes(pop)
        return seg.net
    return build


def cobahh(n, backend, threads):
    return lambda: build_cobahh(n, seed=1, backend=backend, threads=threads, parallel=threads > 1,
                                chunk_steps=1000).net


def sizes(text):
    return [int(float(x)) for x in text.split(",") if x]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--coba", type=sizes, default=sizes("1000,10000,100000,1000000"), help="COBA sizes (neurons)")
    ap.add_argument("--segdend", type=sizes, default=sizes("1,8,64,512"), help="segregated network batch sizes")
    ap.add_argument("--cobahh", type=sizes, default=None,
                    help="COBAHH sizes (default: 1024000 on a GPU, none on the CPU)")
    ap.add_argument("--duration-ms", type=float, default=100.0, help="simulated time of each timed run")
    ap.add_argument("--backends", default="cpu,cuda")
    ap.add_argument("--threads", type=int, default=1, help="Numba threads of the CPU backend")
    args = ap.parse_args()
    numba.set_num_threads(min(args.threads, numba.config.NUMBA_NUM_THREADS))
    backends = []
    for backend in args.backends.split(","):
        ok, detail = (True, f"Numba {numba.__version__}, {args.threads} thread(s)") if backend == "cpu" \
            else cuda.availability()
        if backend == "cuda" and cuda.simulated():
            ok, detail = False, "numba's CUDA simulator is on (NUMBA_ENABLE_CUDASIM=1): not timed"
        print(f"# {backend}: {'available' if ok else 'not available'}: {detail}")
        if ok:
            backends.append(backend)
    print(f"# {args.duration_ms:g} ms simulated per run\n")
    header = (f"{'model':8s} {'backend':7s} {'size':>9s} {'neurons':>10s} {'synapses':>12s} {'compile s':>9s} "
              f"{'wall s':>8s} {'neuron-steps/s':>15s} {'syn. events/s':>14s} {'s per bio s':>11s}")
    print(header)
    for backend in backends:
        hh = args.cobahh if args.cobahh is not None else ([1024000] if backend == "cuda" else [])
        jobs = [("COBA", n, coba) for n in args.coba] + [("SEGDEND", b, segdend) for b in args.segdend] + \
               [("COBAHH", n, cobahh) for n in hh]
        for model, size, builder in jobs:
            r = measure(builder(size, backend, args.threads), args.duration_ms)
            label = f"B={size}" if model == "SEGDEND" else f"{size}"
            print(f"{model:8s} {backend:7s} {label:>9s} {r['neurons']:10d} {r['synapses']:12d} {r['compile_s']:9.1f} "
                  f"{r['wall_s']:8.2f} {r['neuron_steps_per_s']:15.3g} {r['events_per_s']:14.3g} "
                  f"{r['realtime_factor']:11.2f}", flush=True)


if __name__ == "__main__":
    main()
