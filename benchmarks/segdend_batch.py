"""Batched forward pass of the segregated-dendrite network (784-500-10) on MNIST: images per second.

Each image is presented for one forward phase (``--phase-ms``, default 50 ms,
the paper's phase length) at dt = 1 ms, Poisson input rates ``200 Hz * pixel``,
Bernoulli spiking as in the SEGDEND workload (``--spike-mode poisson``: the
original code's Poisson counts),
the output somatic potential averaged over the last 20 ms (the paper's
prediction read-out). With ``batch = B`` the network runs B images at once, one
per copy (``inp.set_image`` with a (B, 784) array); B = 1 presents the images one
after the other. Every size runs in a fresh process after an untimed warm-up
(compiled code cached), one thread unless ``--threads`` says otherwise.

    python benchmarks/segdend_batch.py --batches 1,8,64 --images 256

prints images/s for each batch size and the throughput ratio to B = 1.
"""
import argparse
import json
import os
import subprocess
import sys
import time

WORKER = r"""
import json, sys, time
import numpy as np
import numba
from compsim.data.mnist import load_mnist
from compsim.models.segdend import build_segregated_network

batch, n_images, phase_ms, threads = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
spike_mode, dtype = sys.argv[5], sys.argv[6]
numba.set_num_threads(threads)
images, _ = load_mnist(n_images)
seg = build_segregated_network(500, seed=0, dt=1.0, batch=batch, parallel=threads > 1, threads=threads,
                               spike_mode=spike_mode, dtype=dtype)
avg = seg.net.average(seg.out, ["v_soma"])

def present(block):
    seg.inp.set_image(block if batch > 1 else block[0])
    seg.net.run(phase_ms - 20.0)
    avg.reset()
    seg.net.run(20.0)
    return np.atleast_2d(avg.mean("v_soma")).argmax(axis=1)

present(images[:batch])  # compile / load the cached loop, untimed
seg.net.reset_state()
t0 = time.perf_counter()
predictions = [present(images[k:k + batch]) for k in range(0, n_images, batch)]
elapsed = time.perf_counter() - t0
print("RESULT " + json.dumps({"batch": batch, "images": n_images, "seconds": elapsed,
                              "images_per_s": n_images / elapsed, "run_s": seg.net.timings["run_s"],
                              "n_predictions": int(sum(len(p) for p in predictions))}))
"""


def measure(batch, images, phase_ms, threads, spike_mode, dtype):
    env = dict(os.environ, NUMBA_NUM_THREADS=str(max(threads, 1)))
    proc = subprocess.run([sys.executable, "-c", WORKER, str(batch), str(images), str(phase_ms), str(threads),
                           spike_mode, dtype],
                          capture_output=True, text=True, env=env, timeout=3600)
    if proc.returncode != 0:
        raise RuntimeError(f"worker for batch {batch} failed:\n{proc.stderr}")
    line = next(x for x in proc.stdout.splitlines() if x.startswith("RESULT "))
    return json.loads(line[len("RESULT "):])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batches", default="1,8,64", help="comma-separated batch sizes (first is the reference)")
    ap.add_argument("--images", type=int, default=256, help="images per measurement (a multiple of every batch)")
    ap.add_argument("--phase-ms", type=float, default=50.0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--spike-mode", choices=("bernoulli", "poisson"), default="bernoulli")
    ap.add_argument("--dtype", choices=("float64", "float32"), default="float64")
    ap.add_argument("--repeats", type=int, default=3, help="fresh processes per batch size; the median is shown")
    ap.add_argument("--json", help="write the records to this file")
    args = ap.parse_args(argv)
    batches = [int(b) for b in args.batches.split(",")]
    bad = [b for b in batches if args.images % b]
    if bad:
        ap.error(f"--images {args.images} is not a multiple of batch size(s) {bad}")
    print(f"segregated 784-500-10 forward pass, dt = 1 ms, phase {args.phase_ms:g} ms, {args.images} MNIST images, "
          f"{args.spike_mode} spikes, {args.dtype}, {args.threads} thread(s), median of {args.repeats} fresh processes")
    records, medians = [], {}
    for b in batches:
        runs = []
        for _ in range(args.repeats):
            runs.append(measure(b, args.images, args.phase_ms, args.threads, args.spike_mode, args.dtype))
            time.sleep(0.1)
        records += runs
        rates = sorted(r["images_per_s"] for r in runs)
        medians[b] = rates[len(rates) // 2]
        print(f"  B = {b:4d}: {medians[b]:9.1f} images/s  [{rates[0]:.1f} - {rates[-1]:.1f}]  "
              f"({1e3 / medians[b]:.3f} ms per image)")
    ref = batches[0]
    for b in batches[1:]:
        print(f"  throughput B = {b} / B = {ref}: {medians[b] / medians[ref]:.2f}x")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(records, f, indent=1)


if __name__ == "__main__":
    main()
