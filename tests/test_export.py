"""Export: SONATA files read back by libsonata equal compsim's data; Elephant on the Neo export agrees with compsim."""
import numpy as np
import pytest

from compsim.models.coba import build_coba
from test_network_hdf5 import build

libsonata = pytest.importorskip("libsonata")
neo = pytest.importorskip("neo")
elephant_statistics = pytest.importorskip("elephant.statistics")
pytestmark = pytest.mark.filterwarnings("ignore:The .copy. argument in Quantity is deprecated")  # inside Elephant


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    path = tmp_path_factory.mktemp("export") / "run.h5"
    return build(seed=5).run(200.0, output=path)


def test_sonata_spikes_and_reports_read_by_libsonata_equal_compsim(recorded, tmp_path):
    paths = recorded.to_sonata(tmp_path)
    assert sorted(p.name for p in paths) == ["hid_v_basal.h5", "hid_v_v_soma.h5", "hid_va_v_apical.h5", "spikes.h5"]
    reader = libsonata.SpikeReader(str(tmp_path / "spikes.h5"))
    assert sorted(reader.get_population_names()) == ["hid", "inp"]
    for name in ("inp_spk", "hid_spk"):
        train = recorded.spikes[name]
        population = reader[train.population]
        assert population.sorting == "by_time"
        node_ids, times = population.get_dict()["node_ids"], population.get_dict()["timestamps"]
        assert train.count() > 50
        np.testing.assert_array_equal(node_ids, train.i)
        np.testing.assert_array_equal(times, train.t)

    trace = recorded.state["hid_v"]
    report = libsonata.ElementReportReader(str(tmp_path / "hid_v_v_soma.h5"))["hid"]
    frame = report.get(node_ids=[0, 7, 24])
    np.testing.assert_allclose(frame.times, trace.t, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(np.asarray(frame.data), trace["v_soma"].astype(np.float32))
    assert [node for node, _ in frame.ids] == [0, 7, 24]
    assert report.times == (0.0, 200.0, 0.1)


def test_sonata_rejects_two_spike_monitors_of_one_population(tmp_path):
    net = build(seed=5)
    net.record_spikes(net.populations[1], name="again")
    with pytest.raises(ValueError, match="several spike monitors"):
        net.run(1.0).to_sonata(tmp_path)


def test_elephant_isi_cv_of_the_neo_export_equals_compsim():
    coba = build_coba(1000, seed=3)
    res = coba.net.run(400.0)
    block = res.to_neo()
    trains = [st for st in block.segments[0].spiketrains if st.annotations["population"] == "exc"]
    assert len(trains) == 800 and all(st.t_stop.rescale("ms").magnitude == 400.0 for st in trains)
    cvs = [elephant_statistics.cv(elephant_statistics.isi(st).magnitude) for st in trains if len(st) >= 3]
    assert len(cvs) > 100
    np.testing.assert_allclose(np.mean(cvs), res.spikes["exc_spikes"].isi_cv(), rtol=1e-12)


def test_neo_signals_carry_units_and_sampling(recorded):
    segment = recorded.to_neo().segments[0]
    signal = next(s for s in segment.analogsignals if s.name == "hid.v_apical")
    assert signal.sampling_period.rescale("ms").magnitude == pytest.approx(0.7)
    assert signal.shape == recorded.state["hid_va"]["v_apical"].shape
    assert str(signal.units.dimensionality) == "dimensionless"
    np.testing.assert_array_equal(signal.magnitude, recorded.state["hid_va"]["v_apical"])
