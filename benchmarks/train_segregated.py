"""Training and test throughput of the segregated-dendrite MNIST experiment (784-500-10), in images per second.

    python benchmarks/train_segregated.py [--images 2000] [--batch 64] [--threads 1] [--modes faithful,fast]
                                          [--backend cpu|cuda] [--original REPO [--original-images 600]]

Measures, on the embedded MNIST digits, after compilation (reported apart):

* faithful mode (batch 1, Poisson counts, 10-step kernel): training and test images/s;
* fast mode (``--batch`` copies, Poisson counts, untruncated kernel): training and test images/s.

and prints them as multiples of the original NumPy code's speed (784-500-10, spiking mode, one core).
With ``--original REPO`` (a checkout of the original code, github.com/jordan-g/Segregated-Dendrite-Deep-Learning)
that speed is measured in the same invocation, on this machine, before and after compsim (``_original_segregated.py``);
without it, the figures of the project's reference machine are used (``../shared/guerguiev.md`` section 8:
46-54 training and 17-20 test images/s), which are not this machine's if it is another.
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numba

from compsim.protocols.segregated_mnist import Experiment, build, load_data

ORIGINAL_TRAIN, ORIGINAL_TEST = (46.0, 54.0), (17.0, 20.0)
ONE_THREAD = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}


def measure_original(repo, n_images):
    """The original code's training and test images/s on this machine (one thread; a fresh process)."""
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_original_segregated.py")
    done = subprocess.run([sys.executable, script, repo, str(n_images), str(max(50, n_images // 4))],
                          env={**os.environ, **ONE_THREAD}, capture_output=True, text=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        raise SystemExit(f"the original code failed:\n{done.stderr[-2000:]}")
    result = json.loads(lines[-1][len("RESULT "):])
    return result["train_images_per_s"], result["test_images_per_s"]


def measure(mode, batch, n_images, threads, backend="cpu"):
    exp = Experiment(mode=mode, batch=batch, n_train=n_images, n_test=max(batch, n_images // 4), backend=backend,
                     threads=threads)
    x, y, xt, yt = load_data(exp)
    seg, training = build(exp)
    t0 = time.perf_counter()
    training.train(x[:batch], y[:batch])  # compiles (or loads from the cache) and warms up
    training.test(xt[:batch], yt[:batch])
    compile_s = time.perf_counter() - t0
    trained = training.train(x, y)
    tested = training.test(xt, yt)
    return compile_s, trained.images_per_s, tested.images_per_s


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=2000, help="training images per mode (test: a quarter)")
    ap.add_argument("--batch", type=int, default=64, help="copies in fast mode")
    ap.add_argument("--threads", type=int, default=1, help="Numba threads (fast mode shares the copies out)")
    ap.add_argument("--modes", default="faithful,fast", help="modes to measure, comma-separated")
    ap.add_argument("--backend", choices=("cpu", "cuda"), default="cpu", help="cuda: on a GPU")
    ap.add_argument("--original", metavar="REPO", help="checkout of the original code: measure it here too")
    ap.add_argument("--original-images", type=int, default=600,
                    help="training images for the original (test: a quarter)")
    args = ap.parse_args()
    modes = args.modes.split(",")
    if not set(modes) <= {"faithful", "fast"}:
        ap.error(f"--modes: 'faithful' and/or 'fast', got {args.modes!r}")
    numba.set_num_threads(min(args.threads, numba.config.NUMBA_NUM_THREADS))
    where = "a GPU (backend cuda)" if args.backend == "cuda" else f"{args.threads} thread(s)"
    print(f"784-500-10 on {args.images} embedded MNIST digits, {where}")
    original = []
    if args.original:
        original.append(measure_original(args.original, args.original_images))
        print(f"original code, before: {original[0][0]:.1f} training, {original[0][1]:.1f} test images/s (one thread)")
    rates = {mode: measure(mode, 1 if mode == "faithful" else args.batch, args.images, args.threads, args.backend)
             for mode in modes}
    if args.original:
        original.append(measure_original(args.original, args.original_images))
        print(f"original code, after:  {original[1][0]:.1f} training, {original[1][1]:.1f} test images/s (one thread)")
        (train_lo, train_hi), (test_lo, test_hi) = (sorted(r[k] for r in original) for k in (0, 1))
        source = "measured here"
    else:
        (train_lo, train_hi), (test_lo, test_hi) = ORIGINAL_TRAIN, ORIGINAL_TEST
        source = "of the reference machine"
    for mode, (compile_s, train_rate, test_rate) in rates.items():
        batch = 1 if mode == "faithful" else args.batch
        print(f"{mode:8s} batch {batch:3d}: {train_rate:7.0f} training images/s ({train_rate / train_hi:.1f}-"
              f"{train_rate / train_lo:.1f}x the original's {train_lo:.0f}-{train_hi:.0f} {source}), {test_rate:6.0f} "
              f"test images/s ({test_rate / test_hi:.1f}-{test_rate / test_lo:.1f}x the original's "
              f"{test_lo:.0f}-{test_hi:.0f}); compile/cache load {compile_s:.1f} s")


if __name__ == "__main__":
    main()
