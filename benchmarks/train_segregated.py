"""Training and test throughput of the segregated-dendrite MNIST experiment (784-500-10), in images per second.

    python benchmarks/train_segregated.py [--images 2000] [--batch 64] [--threads 1] [--modes faithful,fast]
                                          [--backend cpu|cuda]

Measures, on the embedded MNIST digits, after compilation (reported apart):

* faithful mode (batch 1, Poisson counts, 10-step kernel): training and test images/s;
* fast mode (``--batch`` copies, Poisson counts, untruncated kernel): training and test images/s.

and prints them next to the original NumPy code's speed on one core of the
project's reference machine (``../shared/guerguiev.md`` section 8: 46-54
training and 17-20 test images/s for 784-500-10 in spiking mode).
"""
import argparse
import time

import numba

from compsim.protocols.segregated_mnist import Experiment, build, load_data

ORIGINAL_TRAIN, ORIGINAL_TEST = (46.0, 54.0), (17.0, 20.0)


def measure(mode, batch, n_images, threads, backend="cpu"):
    exp = Experiment(mode=mode, batch=batch, n_train=n_images, n_test=max(batch, n_images // 4), backend=backend)
    x, y, xt, yt = load_data(exp)
    seg, training = build(exp)
    if threads > 1:
        seg.net.parallel, seg.net.threads = True, threads
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
    args = ap.parse_args()
    modes = args.modes.split(",")
    if not set(modes) <= {"faithful", "fast"}:
        ap.error(f"--modes: 'faithful' and/or 'fast', got {args.modes!r}")
    numba.set_num_threads(min(args.threads, numba.config.NUMBA_NUM_THREADS))
    lo, hi = ORIGINAL_TRAIN
    where = "a GPU (backend cuda)" if args.backend == "cuda" else f"{args.threads} thread(s)"
    print(f"784-500-10 on {args.images} embedded MNIST digits, {where}")
    for mode in modes:
        batch = 1 if mode == "faithful" else args.batch
        compile_s, train_rate, test_rate = measure(mode, batch, args.images, args.threads, args.backend)
        print(f"{mode:8s} batch {batch:3d}: {train_rate:7.0f} training images/s ({train_rate / hi:.1f}-"
              f"{train_rate / lo:.1f}x the original's {lo:.0f}-{hi:.0f}), {test_rate:6.0f} test images/s "
              f"({test_rate / ORIGINAL_TEST[1]:.1f}-{test_rate / ORIGINAL_TEST[0]:.1f}x the original's "
              f"{ORIGINAL_TEST[0]:.0f}-{ORIGINAL_TEST[1]:.0f}); compile/cache load {compile_s:.1f} s")


if __name__ == "__main__":
    main()
