"""The one CSV parser (edgert.recording.parse_csv) serves `edgert classify` and the dataset
index; the one label rule (edgert.acquisition.labels) serves recordings, datasets, ingestion."""
import numpy as np
import pytest

from edgert.acquisition.labels import infer_label
from pathlib import Path

from edgert.dataset.decoding import default_reader
from edgert.errors import DatasetError, InputError
from edgert.recording import SensorAxis, parse_csv, read_recording


def test_units_from_header_and_frequency_from_timestamps():
    data = b"timestamp,accX (m/s2),accY\n0,1.5,2\n16,2.5,3\n32,3.5,4\n"
    values, freq, axes = parse_csv(data, "x.csv")
    assert [(a.name, a.units) for a in axes] == [("accX", "m/s2"), ("accY", "N/A")]
    assert freq == pytest.approx(62.5)
    np.testing.assert_array_equal(values, np.array([[1.5, 2], [2.5, 3], [3.5, 4]], np.float32))


def test_nan_value_names_the_line():
    with pytest.raises(InputError, match=r"x\.csv: line 3 holds NaN"):
        parse_csv(b"timestamp,a\n0,1\n16,nan\n32,2\n", "x.csv")


def test_dataset_reader_uses_the_same_parser_with_its_error_class():
    sample = default_reader(Path("x.csv"), b"timestamp,accX (m/s2)\n0,1\n10,2\n20,3\n", None)
    assert sample.interval_ms == pytest.approx(10.0)
    assert sample.sensors == (SensorAxis("accX", "m/s2"),)
    with pytest.raises(DatasetError, match="^timestamps must increase strictly"):
        default_reader(Path("x.csv"), b"timestamp,a\n0,1\n0,2\n", None)


@pytest.mark.parametrize("name,label", [("idle.01.json", "idle"), ("dir/up down-2_x.cbor",
                                        "up down-2_x"), (".hidden", None)])
def test_label_rule_is_shared(name, label):
    assert infer_label(name) == label
    assert read_recording(b"timestamp,a\n0,1\n10,2\n", name + ".csv").label == \
        infer_label(name + ".csv")
