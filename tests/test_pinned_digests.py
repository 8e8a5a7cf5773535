"""Spikes pinned before the engine redesign (state store, batch axis, stage plan): B = 1 must not change them.

The digests were computed with the engine of commit 2e2f250 (before the
redesign): COBA with 4,000 neurons (seed 1, 1 s) and the 784-500-10
segregated network (seed 0, dt 1 ms, Poisson counts) on 3 MNIST images of
100 ms each. A change of a single spike time or index changes the digest.
"""
import hashlib

import numpy as np

from compsim.data.mnist import load_mnist
from compsim.models.coba import build_coba
from compsim.models.segdend import build_segregated_network


def digest(*arrays):
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()[:16]


def steps_and_neurons(train, dt):
    return np.rint(train.t / dt).astype(np.int64), train.i.astype(np.int64)


def test_coba_4000_spikes_are_those_of_the_engine_before_the_redesign():
    res = build_coba(4000, seed=1).net.run(1000.0)
    exc, inh = res.spikes["exc_spikes"], res.spikes["inh_spikes"]
    assert (exc.count(), inh.count()) == (60196, 15219)
    assert digest(*steps_and_neurons(exc, 0.1), *steps_and_neurons(inh, 0.1)) == "845f26437abb7b8b"


def test_segregated_784_500_10_spikes_are_those_of_the_engine_before_the_redesign():
    images, _ = load_mnist(3)
    seg = build_segregated_network(500, seed=0, dt=1.0)
    seg.net.record_spikes(seg.hid)
    seg.net.record_spikes(seg.out)
    for image in images:
        seg.inp.set_image(image, max_rate=200.0)
        res = seg.net.run(100.0)
    hid, out = res.spikes["hid_spikes"], res.spikes["out_spikes"]
    assert (hid.count(), out.count()) == (19500, 420)
    assert digest(*steps_and_neurons(hid, 1.0), *steps_and_neurons(out, 1.0)) == "364186e34985336c"
