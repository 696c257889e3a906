"""edgert.dataset: the SQLite index of a folder of recordings and every classify-all filter,
on the real files of tests/data/dataset/motion (see its README for what each file is)."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import time
from pathlib import Path

import pytest

from edgert.acquisition.labels import infer_label
from edgert.dataset import Dataset, SampleFilter
from edgert.dataset.decoding import default_reader
from edgert.errors import DatasetError

DATA = Path(__file__).parent / "data" / "dataset" / "motion"
KEY = "dataset-test-hmac-key"

TESTING = {
    "loose.json", "testing/broken.json", "testing/garbage.cbor", "testing/idle.01.json",
    "testing/idle.02.cbor", "testing/idle.fast.json", "testing/idle.long.json",
    "testing/idle.short.json", "testing/snake.07.json", "testing/snake.25.json",
    "testing/updown.06.cbor", "testing/updown.09.json", "testing/updown.16.json",
    "testing/wave.00.json", "testing/wave.11.json", "testing/wave.13.csv",
}
CORRUPT = {"testing/broken.json", "testing/garbage.cbor"}


@pytest.fixture
def folder(tmp_path):
    dst = tmp_path / "motion"
    shutil.copytree(DATA, dst)
    return dst


@pytest.fixture(scope="module")
def ds(tmp_path_factory):
    """One indexed copy shared by the read-only tests of this module."""
    dst = tmp_path_factory.mktemp("ro") / "motion"
    shutil.copytree(DATA, dst)
    d = Dataset(dst, hmac_key=KEY)
    yield d
    d.close()


def paths(ds, **kw):
    flt = SampleFilter(**kw)
    rows = ds.query(flt)
    assert ds.count(flt) == len(rows)
    return {r.path for r in rows}


# --- indexing ---------------------------------------------------------------------------------

def test_index_fields_from_files(ds):
    rows = {r.path: r for r in ds.query(SampleFilter(category="all"))}
    assert len(rows) == 30
    r = rows["testing/idle.long.json"]
    raw = (DATA / r.path).read_bytes()
    assert r.sha256 == hashlib.sha256(raw).hexdigest()
    assert (r.category, r.label, r.filename) == ("testing", "idle", "idle.long")
    assert r.values_count == 375 and r.frequency == 62.5 and r.interval_ms == 16.0
    assert r.total_length_ms == 6000.0
    assert [s["name"] for s in r.sensors] == ["accX", "accY", "accZ"]
    assert r.signature_valid and r.signature_method == "HS256"
    assert r.device_name == "ac:87:a3:0a:2d:1b" and r.device_type == "DISCO-L475VG-IOT01A"
    assert r.created == "2025-11-21T04:40:00.000Z"          # protected.iat
    assert rows["testing/idle.02.cbor"].signature_valid is False      # another key
    assert rows["testing/updown.06.cbor"].signature_method == "none"
    assert rows["testing/wave.13.csv"].frequency == pytest.approx(62.5)
    assert rows["testing/idle.fast.json"].frequency == 125.0
    # manifest: category/label/metadata of a file outside the category folders
    loose = rows["loose.json"]
    assert (loose.category, loose.label, loose.metadata) == ("testing", "snake", {"site": "C"})
    assert rows["training/reg.a.json"].label == "1.5"
    assert rows["testing/idle.01.json"].metadata == {"site": "A", "machine": "m1"}
    assert rows["anomaly/anomaly.27.json"].category == "anomaly"


def test_signatures_are_invalid_without_the_key(folder):
    with Dataset(folder, index_path=":memory:") as d:
        assert d.count(SampleFilter(category="all", signature_validity="valid")) == 0


def test_corrupt_files_are_error_rows_and_nothing_else_is_affected(ds):
    errors = {r.path: r.error for r in ds.errors()}
    assert set(errors) == CORRUPT
    assert "testing/broken.json" in errors["testing/broken.json"]
    assert "JSON" in errors["testing/broken.json"]
    assert "CBOR" in errors["testing/garbage.cbor"] or "document" in errors["testing/garbage.cbor"]
    ok = [r for r in ds.query(SampleFilter(category="all")) if r.error is None]
    assert len(ok) == 28 and all(r.values_count > 0 for r in ok)
    with pytest.raises(DatasetError, match="broken.json"):
        ds.load(ds.errors()[0])


def test_studio_sample_object_parses_with_official_model(ds):
    from edgeimpulse_api.models.sample import Sample
    for row in ds.query(SampleFilter(category="all")):
        obj = row.to_studio(project_id=43)
        parsed = Sample.parse_obj(obj)          # validating parse (pydantic v1 API)
        assert parsed.id == row.id and parsed.sha256_hash == row.sha256
        assert parsed.processing_error == (row.error is not None)


def test_incremental_refresh(folder):
    calls = []

    def counting_reader(path, data, key):
        calls.append(path.name)
        return default_reader(path, data, key)

    index = folder.parent / "index.sqlite"
    with Dataset(folder, hmac_key=KEY, index_path=index, reader=counting_reader) as d:
        assert len(calls) == 30
        ids = {r.path: r.id for r in d.query(SampleFilter(category="all"))}
    calls.clear()
    # relabel through the manifest, rewrite one file, delete one, add one
    man = json.loads((folder / "info.labels").read_text())
    man["files"].append({"path": "testing/wave.11.json", "label": "idle"})
    (folder / "info.labels").write_text(json.dumps(man))
    src = folder / "testing/idle.01.json"
    before = hashlib.sha256(src.read_bytes()).hexdigest()
    src.write_bytes((folder / "testing/idle.02.cbor").read_bytes())   # new content, same name
    os.utime(src, ns=(time.time_ns(), time.time_ns() + 10_000_000))
    (folder / "testing/updown.09.json").unlink()
    shutil.copy(folder / "testing/wave.00.json", folder / "testing/wave.new.json")
    with Dataset(folder, hmac_key=KEY, index_path=index, reader=counting_reader,
                 refresh=False) as d:
        stats = d.refresh()
        assert stats == {"added": 1, "updated": 1, "unchanged": 28, "removed": 1, "errors": 2}
        assert sorted(calls) == ["idle.01.json", "wave.new.json"]
        rows = {r.path: r for r in d.query(SampleFilter(category="all"))}
        assert rows["testing/idle.01.json"].id == ids["testing/idle.01.json"]   # id kept
        assert rows["testing/idle.01.json"].sha256 != before
        assert rows["testing/wave.11.json"].label == "idle"      # manifest re-applied
        assert "testing/updown.09.json" not in rows
        assert rows["testing/wave.new.json"].id > max(ids.values())
        assert d.refresh()["unchanged"] == 30


def test_label_inference_like_the_ingestion_api():
    assert infer_label("idle.01.json") == "idle"
    assert infer_label("wave 2_a-b.cbor") == "wave 2_a-b"
    assert infer_label(".hidden") is None


def test_not_a_folder(tmp_path):
    with pytest.raises(DatasetError, match="not a folder"):
        Dataset(tmp_path / "nope")


# --- filters (Studio's classify-all page parameters) ------------------------------------------

def test_category_default_and_all(ds):
    assert paths(ds, category="testing") == TESTING
    assert len(paths(ds, category="all")) == 30
    assert paths(ds, category="anomaly") == {"anomaly/anomaly.27.json"}
    with pytest.raises(DatasetError, match="category"):
        ds.count(SampleFilter(category="nonsense"))


def test_labels_list_or_json(ds):
    want = {"loose.json", "testing/idle.01.json", "testing/idle.02.cbor",
            "testing/idle.fast.json", "testing/idle.long.json", "testing/idle.short.json",
            "testing/snake.07.json", "testing/snake.25.json"}
    assert paths(ds, category="testing", labels=["idle", "snake"]) == want
    assert paths(ds, category="testing", labels='["idle", "snake"]') == want
    assert paths(ds, category="testing", labels=[]) == set()
    with pytest.raises(DatasetError, match="labels"):
        ds.count(SampleFilter(labels="idle"))          # not a JSON array


def test_filename_includes_case_insensitive(ds):
    assert paths(ds, category="all", filename="LONG") == {
        "testing/idle.long.json", "training/idle.long.json", "training/wave.long.json"}
    assert paths(ds, category="testing", filename=".0") == {
        "testing/idle.01.json", "testing/idle.02.cbor", "testing/snake.07.json",
        "testing/updown.06.cbor", "testing/updown.09.json", "testing/wave.00.json"}


def test_length_bounds_are_strict(ds):
    # "longer than" / "shorter than": 2000 ms samples pass neither bound of 2000
    assert paths(ds, category="testing", min_length=2000) == {"testing/idle.long.json"}
    assert paths(ds, category="testing", max_length=2000) == {"testing/idle.short.json"}
    assert paths(ds, category="testing", min_length=1999, max_length=2001) == TESTING - CORRUPT \
        - {"testing/idle.long.json", "testing/idle.short.json"}


def test_frequency_bounds_are_strict(ds):
    assert paths(ds, category="testing", min_frequency=62.5) == {"testing/idle.fast.json"}
    assert paths(ds, category="testing", max_frequency=62.5) == set()
    assert paths(ds, category="all", min_frequency=1000) == {"training/noise.csv"}
    assert len(paths(ds, category="testing", max_frequency=100)) == len(TESTING) - 3


def test_signature_validity(ds):
    invalid = {"testing/idle.02.cbor", "testing/updown.06.cbor", "testing/wave.13.csv"} | CORRUPT
    assert paths(ds, category="testing", signature_validity="invalid") == invalid
    assert paths(ds, category="testing", signature_validity="valid") == TESTING - invalid
    assert paths(ds, category="testing", signature_validity="both") == TESTING
    with pytest.raises(DatasetError, match="signature_validity"):
        ds.count(SampleFilter(signature_validity="yes"))


def test_label_bounds_numeric(ds):
    assert paths(ds, category="all", min_label=1, max_label=3) == {"training/reg.a.json"}
    assert paths(ds, category="all", min_label=1.5) == {"training/reg.a.json",
                                                        "training/reg.b.json"}
    assert paths(ds, category="all", max_label=1.5) == set()          # "< this value"


def test_search_terms_filename_label_or_id(ds):
    assert paths(ds, category="testing", search="idle 01") == {"testing/idle.01.json"}
    assert paths(ds, category="testing", search="SNAKE") == {
        "loose.json", "testing/snake.07.json", "testing/snake.25.json"}   # loose: by label
    row = ds.query(SampleFilter(category="testing", filename="updown.16"))[0]
    assert str(row.id) in paths(ds, category="testing", search=str(row.id)) or True
    assert row.path in paths(ds, category="testing", search=str(row.id))


def test_data_type(ds):
    assert paths(ds, category="all", data_type="audio") == {"training/noise.csv"}
    assert paths(ds, category="all", data_type="image") == set()
    with pytest.raises(DatasetError, match="data_type"):
        ds.count(SampleFilter(data_type="video"))


def test_id_bounds(ds):
    rows = ds.query(SampleFilter(category="all"))
    ids = [r.id for r in rows]
    lo, hi = ids[3], ids[10]
    got = paths(ds, category="all", min_id=lo, max_id=hi)
    assert got == {r.path for r in rows if lo <= r.id < hi} and len(got) == 7


def test_metadata_examples_of_the_description(ds):
    no_meta = {p for p in TESTING if p not in (
        "loose.json", "testing/idle.01.json", "testing/snake.07.json", "testing/wave.00.json")}
    ex1 = [{"no_metadata": True}, {"filters_combinator": "and"},
           {"key": "site", "op": "eq", "values": ["A", "B"]},
           {"key": "machine", "op": "eq", "values": ["m1"]}]
    assert paths(ds, category="testing", metadata=ex1) == no_meta | {"testing/idle.01.json"}
    ex2 = json.dumps([{"no_metadata": False}, {"filters_combinator": "or"},
                      {"key": "site", "op": "neq", "values": ["A"]}])
    assert paths(ds, category="testing", metadata=ex2) == {"loose.json",
                                                           "testing/snake.07.json"}


def test_metadata_or_includes_samples_without_the_filtered_keys(ds):
    flt = [{"filters_combinator": "or"}, {"key": "machine", "op": "eq", "values": ["m1"]}]
    assert paths(ds, category="testing", metadata=flt) == {
        "testing/idle.01.json", "testing/snake.07.json", "loose.json"}
    # neq without values excludes every value of the key (and-mode)
    assert paths(ds, category="testing", metadata=[{"key": "machine", "op": "neq"}]) == {
        "testing/snake.07.json", "loose.json"}
    # eq without values: any value of the key
    assert paths(ds, category="testing", metadata=[{"key": "machine", "op": "eq"}]) == {
        "testing/idle.01.json", "testing/wave.00.json"}
    for bad, what in (("[{", "not valid JSON"), ('[{"key": "a", "op": "like"}]', "op"),
                      ('[{"filters_combinator": "xor"}]', "filters_combinator"),
                      ('{"key": "a"}', "array")):
        with pytest.raises(DatasetError, match=what):
            ds.count(SampleFilter(metadata=bad))


def test_added_dates(folder):
    index = folder.parent / "i.sqlite"
    with Dataset(folder, hmac_key=KEY, index_path=index) as d:
        first = d.query(SampleFilter(category="all"))[0].added
    time.sleep(0.02)
    middle = time.time()
    time.sleep(0.02)
    shutil.copy(folder / "testing/wave.00.json", folder / "testing/wave.late.json")
    with Dataset(folder, hmac_key=KEY, index_path=index) as d:
        from datetime import datetime, timezone
        mid = datetime.fromtimestamp(middle, tz=timezone.utc)
        assert paths(d, category="all", min_date=mid) == {"testing/wave.late.json"}
        assert len(paths(d, category="all", max_date=mid.isoformat())) == 30
        assert paths(d, category="all", max_date=first) == set()       # strictly before
        with pytest.raises(DatasetError, match="min_date"):
            d.count(SampleFilter(min_date="yesterday"))


def test_paging_and_query_names(ds):
    all_rows = ds.query(SampleFilter(category="testing"))
    page = ds.query(SampleFilter(category="testing"), limit=5, offset=10)
    assert [r.id for r in page] == [r.id for r in all_rows[10:15]]
    assert ds.query(SampleFilter(category="testing"), limit=5, offset=15)[0].id == \
        all_rows[15].id
    flt = SampleFilter.from_query({"minLength": "1999", "maxLength": "2001",
                                   "signatureValidity": "valid", "labels": '["idle"]',
                                   "category": "testing", "limit": "3"})
    assert {r.path for r in ds.query(flt)} == {"testing/idle.01.json", "testing/idle.fast.json"}
    with pytest.raises(DatasetError, match="min_id"):
        ds.count(SampleFilter(min_id="three"))
    # numbers beyond SQLite's 64-bit integers mean "everything" / "nothing", not a crash
    huge = 10**23
    assert ds.query(SampleFilter(category="testing"), limit=huge) == all_rows
    assert ds.query(SampleFilter(category="testing"), offset=huge) == []
    assert ds.query(SampleFilter(category="testing", max_id=huge)) == all_rows
    assert ds.count(SampleFilter(category="testing", min_id=huge)) == 0
    assert ds.count(SampleFilter(category="testing", min_id=-huge)) == len(all_rows)


def test_index_is_plain_sqlite(ds):
    con = sqlite3.connect(ds.index_path)
    n = con.execute("SELECT count(*) FROM samples WHERE error IS NOT NULL").fetchone()[0]
    con.close()
    assert n == 2


def test_index_commits_do_not_wait_for_the_disk(ds):
    """Classify-all caches one result per sample: with SQLite's default (rollback journal,
    synchronous=FULL) every commit is an fsync taken under the dataset lock, which made it
    the slowest step and serialised the worker threads. The index is a rebuildable cache:
    write-ahead log, synchronous=NORMAL (consistent after a crash, no fsync per commit)."""
    assert ds.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert ds.conn.execute("PRAGMA synchronous").fetchone()[0] == 1      # NORMAL


def test_dates_as_the_official_client_sends_them():
    from edgert.dataset.filters import format_date, parse_date
    # datetime.isoformat() in a query string whose '+' was not percent-encoded
    assert format_date(parse_date("2024-06-01T12:00:00 02:00")) == "2024-06-01T10:00:00.000Z"
    assert format_date(parse_date("2024-06-01T12:00:00.5Z")) == "2024-06-01T12:00:00.500Z"
    assert format_date(parse_date("2024-06-01")) == "2024-06-01T00:00:00.000Z"


def test_index_of_another_schema_version_is_rebuilt(tmp_path):
    index = tmp_path / "old.sqlite"
    con = sqlite3.connect(index)
    con.execute("CREATE TABLE samples (id INTEGER PRIMARY KEY, path TEXT)")
    con.execute("CREATE TABLE classifications (sha256 TEXT, result TEXT)")
    con.commit()
    con.close()
    with Dataset(DATA, index_path=index, hmac_key=KEY) as d:
        assert d.count(SampleFilter(category="all")) == 30
        d.cache_put("s", "int8", "fp", "idle", {"predictions": []}, [], None)
        assert d.cache_get("s", "int8", "fp", "idle", detail=True) == (
            {"predictions": [], "classifications": []}, None)


@pytest.mark.parametrize("text,why", [
    ("time,accX\n0,1\n", "two rows"),
    ("ms,accX\n0,1\n16,2\n", "timestamp"),
    ("timestamp,accX\n0,1\n16,x\n", "non-numeric"),
    ("timestamp,accX\n0,1\n0,2\n", "increase"),
    ("timestamp,accX\n0,1\n16,2\n100,3\n", "evenly"),
    ("timestamp,accX,accY\n0,1\n16,2,3\n", "columns"),
])
def test_bad_csv_files_are_error_rows(tmp_path, text, why):
    (tmp_path / "testing").mkdir()
    (tmp_path / "testing" / "bad.csv").write_text(text)
    (tmp_path / "testing" / "good.csv").write_text("timestamp,accX (m/s2)\n0,1\n16,2\n32,3\n")
    with Dataset(tmp_path, index_path=":memory:") as d:
        (err,) = d.errors()
        assert err.filename == "bad" and why in err.error
        good = d.query(SampleFilter(filename="good"))[0]
        assert good.sensors == [{"name": "accX", "units": "m/s2"}] and good.frequency == 62.5


def test_add_sample_decodes_the_upload_once(folder, monkeypatch):
    """The upload is decoded (and its signature checked) once, before it is written; the
    index is built from that decode, not from decoding the stored file again."""
    import edgert.recording.files as recording_files
    real = recording_files.decode_verified
    decoded = []

    def counting(data, *args, **kwargs):
        decoded.append(bytes(data))
        return real(data, *args, **kwargs)

    with Dataset(folder, hmac_key=KEY, index_path=":memory:") as d:
        doc = (DATA / "testing" / "wave.00.json").read_bytes()
        want = d.add_sample(doc, filename="shake.01", category="testing")   # unpatched
        monkeypatch.setattr(recording_files, "decode_verified", counting)
        row = d.add_sample(doc, filename="shake.01", category="testing")
        assert decoded == [doc]
        assert row.path == "testing/shake.01.1.json" and row.label == want.label == "shake"
        assert row.signature_valid and row.sha256 == want.sha256
        assert (row.values_count, row.sensors, row.created, row.interval_ms) == \
            (want.values_count, want.sensors, want.created, want.interval_ms)


def test_add_sample_like_the_ingestion_api(folder):
    from edgert.errors import EdgertError
    with Dataset(folder, hmac_key=KEY, index_path=":memory:") as d:
        n0 = d.count(SampleFilter(category="all"))
        doc = (DATA / "testing" / "wave.00.json").read_bytes()
        row = d.add_sample(doc, filename="shake.01", category="testing", label="shake",
                           metadata={"site": "D", "rev": 2})
        assert row.path == "testing/shake.01.json" and row.label == "shake"
        assert row.signature_valid and row.metadata == {"site": "D", "rev": "2"}
        again = d.add_sample(doc, filename="shake.01.json", category="testing")
        assert again.path == "testing/shake.01.1.json" and again.label == "shake"  # inferred
        cbor = (DATA / "testing" / "updown.06.cbor").read_bytes()
        un = d.add_sample(cbor, filename="x/../noise", category="anomaly", no_label=True)
        assert un.path == "anomaly/noise.cbor" and un.label is None
        # the message names the first stored copy (the folder's own, not the upload above)
        with pytest.raises(DatasetError, match="already stored as testing/updown.06.cbor$"):
            d.add_sample(cbor, filename="y", disallow_duplicates=True)
        with pytest.raises(EdgertError):
            d.add_sample(b'{"protected": 1}', filename="bad.json")
        with pytest.raises(DatasetError, match="category"):
            d.add_sample(doc, filename="z", category="nope")
        assert not (folder / "training" / "bad.json").exists()
        assert d.count(SampleFilter(category="all")) == n0 + 3
        d.refresh()                                   # labels survive a full re-index
        got = {r.path: r.label for r in d.query(SampleFilter(category="all"))}
        assert got["testing/shake.01.json"] == "shake" and got["anomaly/noise.cbor"] is None
        ids = {r.path: r.id for r in d.query(SampleFilter(filename="shake.01"))}
        assert ids["testing/shake.01.json"] == row.id              # id kept by the refresh


def test_unusable_index_path(tmp_path):
    (tmp_path / "not-a-db").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(DatasetError, match="--index"):
        Dataset(DATA, index_path=tmp_path / "not-a-db")


@pytest.mark.parametrize("name,why", [
    ("wave\x00.json", "control characters"),
    ("a" * 300, "305 bytes long"),
    ("é" * 120 + ".json", "bytes long"),
    ("line\nbreak.json", "control characters"),
    (".hidden.json", "does not start with '.'"),
    ("/", "does not start with '.'"),
])
def test_add_sample_names_no_file_system_takes_are_dataset_errors(folder, name, why):
    """A NUL or a 300-character x-file-name raised ValueError / OSError from the file system;
    it is a DatasetError saying what to change, and nothing is written."""
    doc = (DATA / "testing" / "wave.00.json").read_bytes()
    with Dataset(folder, hmac_key=KEY, index_path=":memory:") as d:
        n0 = d.count(SampleFilter(category="all"))
        files = sorted(p for p in folder.rglob("*"))
        with pytest.raises(DatasetError, match=why):
            d.add_sample(doc, filename=name, category="testing")
        assert d.count(SampleFilter(category="all")) == n0
        assert sorted(p for p in folder.rglob("*")) == files
