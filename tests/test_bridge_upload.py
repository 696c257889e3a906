"""Anomalous windows reach the project's local ingestion server over real HTTP through the
durable outbox: from a board running its impulse (loop stopped with 'b', the window's file
read back, queued byte for byte, unlinked, inference resumed, the pause measured) and from a
data-forwarder board (the window's readings as a signed DATA_FORWARDER JSON document)."""
from __future__ import annotations

import json
import threading

import numpy as np
import pytest

from edgert.acquisition import decode, verify
from edgert import Impulse
from edgert.ingestion import IngestionClient, Outbox
from firmware_bridge.capture import AnomalyUploader
from firmware_bridge.emulator import AtFirmware, ForwarderBoard
from firmware_bridge.runner import AtBoardWorker, Bridge, ForwarderWorker, OutputSink

from .bridge_helpers import DEMO, Collector, wait_for
from .ingest_helpers import API_KEY, FAST_RETRY, HMAC_KEY, running_server

ANOMALOUS = {2, 5}


def scripted(index, values):
    scores = {"idle": 0.75, "snake": 0.125, "updown": 0.0625, "wave": 0.0625}
    return scores, (0.8 if index in ANOMALOUS else -0.4)


def test_board_anomalies_are_fetched_and_uploaded(tmp_path):
    fw = AtFirmware(str(tmp_path / "ttyACM0"), time_scale=0.01, results=scripted).start()
    fw.config.hmac_key = HMAC_KEY          # the board signs with the project's key
    out = Collector()
    stop = threading.Event()
    with running_server() as srv:
        outbox = Outbox(str(tmp_path / "outbox.db"), IngestionClient(srv.url, API_KEY,
                                                                     timeout=5.0),
                        retry=FAST_RETRY).start()
        uploader = AnomalyUploader(outbox, threshold=0.3)
        worker = AtBoardWorker(fw.device, OutputSink(out, json_lines=True), stop,
                               uploader=uploader, hang_timeout=3.0)
        bridge = Bridge([worker], stop).start()
        try:
            assert wait_for(lambda: worker.stats.captures == 2, 30)
            assert wait_for(lambda: len(out.objects) >= 8, 20)
        finally:
            bridge.stop()
            fw.close()
        assert outbox.flush(timeout=10)
        outbox.close()
        stored = srv.store.list(category="anomaly")
        bodies = [srv.store.get(s["id"], with_body=True)["body"] for s in stored]
    anomalous = [o for o in out.objects if o["anomaly"] > 0.3]
    assert len(anomalous) >= 2
    captured = [f"/fs/device-classification.{i}" for i in sorted(ANOMALOUS)]
    # the server holds exactly the files the board wrote for the anomalous windows
    assert sorted(bodies) == sorted(fw.recorded[f].data for f in captured)
    for s in stored:
        assert s["signature_valid"] and s["filename"].startswith("c47f51010203.ttyACM0.")
    for f in captured:
        assert f not in fw.files                                  # unlinked on the board
        assert f"AT+READFILE={f}" in fw.commands and f"AT+UNLINKFILE={f}" in fw.commands
    assert fw.breaks >= 2 and fw.commands.count("AT+RUNIMPULSE") >= 3   # resumed each time
    assert len(worker.stats.capture_gaps_s) == 2
    assert all(0 < g < 5 for g in worker.stats.capture_gaps_s)
    assert worker.stats.uploads_queued == 2 and worker.stats.failed_captures == 0


def test_board_signature_must_match_the_given_key(tmp_path):
    """--hmac-key that is not the board's: the capture is refused, not uploaded."""
    fw = AtFirmware(str(tmp_path / "ttyACM0"), time_scale=0.01, results=scripted).start()
    stop = threading.Event()
    outbox = Outbox(str(tmp_path / "outbox.db"))
    uploader = AnomalyUploader(outbox, threshold=0.3, hmac_key="not-the-boards-key")
    worker = AtBoardWorker(fw.device, OutputSink(Collector(), json_lines=True), stop,
                           uploader=uploader, hang_timeout=3.0)
    bridge = Bridge([worker], stop).start()
    try:
        assert wait_for(lambda: worker.stats.failed_captures >= 1, 30)
        assert wait_for(lambda: worker.stats.windows >= 7, 20)    # inference went on
    finally:
        bridge.stop()
        fw.close()
        status = outbox.status()
        outbox.close()
    assert status.pending == 0 and worker.stats.uploads_queued == 0


def test_forwarder_anomalies_are_uploaded_as_data_forwarder_documents(tmp_path):
    imp = Impulse.load(DEMO)
    board = ForwarderBoard(str(tmp_path / "ttyUSB0"), n_axes=3, frequency=62.5,
                           decimals=4).start()
    out = Collector()
    stop = threading.Event()
    with running_server() as srv:
        outbox = Outbox(str(tmp_path / "outbox.db"), IngestionClient(srv.url, API_KEY,
                                                                     timeout=5.0),
                        retry=FAST_RETRY).start()
        # every window of this synthetic motion is anomalous for the demo's K-means
        uploader = AnomalyUploader(outbox, threshold=-1e9, hmac_key=HMAC_KEY)
        worker = ForwarderWorker(board.device, OutputSink(out, json_lines=True), stop, imp,
                                 frequency=62.5, uploader=uploader, device="bench-1")
        bridge = Bridge([worker], stop).start()
        try:
            assert wait_for(lambda: worker.stats.uploads_queued >= 4, 20)
        finally:
            bridge.stop()
            board.close()
        assert outbox.flush(timeout=10)
        outbox.close()
        stored = srv.store.list(category="anomaly", limit=1000)
        bodies = {s["filename"]: srv.store.get(s["id"], with_body=True)["body"]
                  for s in stored}
    assert len(stored) == worker.stats.uploads_queued
    sent = board.sent
    for name, body in bodies.items():
        assert name.startswith("bench-1.ttyUSB0.window") and name.endswith(".json")
        assert verify(body, HMAC_KEY)
        doc = decode(body)
        tree = json.loads(body)
        assert tree["payload"]["device_type"] == "DATA_FORWARDER"
        assert doc.device_name == "bench-1" and doc.interval_ms == 16
        assert [(s.name, s.units) for s in doc.sensors] == [
            ("accX", "m/s2"), ("accY", "m/s2"), ("accZ", "m/s2")]
        assert doc.values.shape == (imp.window_samples, 3)
        # the window's readings exactly as the board printed them
        start = int(np.flatnonzero((sent == doc.values[0]).all(axis=1))[0])
        np.testing.assert_array_equal(doc.values, sent[start:start + imp.window_samples])
    assert all(s["signature_valid"] for s in stored)


@pytest.mark.parametrize("threshold,expected", [(0.3, True), (0.8, False), (None, False)])
def test_threshold_is_strictly_above(tmp_path, threshold, expected):
    with Outbox(str(tmp_path / "o.db")) as ob:
        up = AnomalyUploader(ob, threshold=0.5 if threshold is None else threshold)
        assert up.is_anomalous(None if threshold is None else 0.8) is expected
