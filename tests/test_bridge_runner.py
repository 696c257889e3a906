"""The bridge's per-board readers over real ptys: faults (garbled and truncated lines, a hang,
a disconnect mid-stream), reconnect after an unplug (the emulator closes its pty and comes back
on a new one; the symlink the bridge opened is re-pointed, as udev's by-id links are),
several boards where one hangs and the others keep going, and data-forwarder mode with
host-side inference whose results equal the runtime's classification of exactly the readings
the board printed."""
from __future__ import annotations

import re
import threading
import time

import numpy as np
import pytest

from edgert import Impulse
from firmware_bridge.emulator import AtFirmware, Faults, ForwarderBoard
from firmware_bridge.runner import AtBoardWorker, Bridge, ForwarderWorker, OutputSink

from .bridge_helpers import DEMO, Collector, wait_for

LABELS = ("idle", "snake", "updown", "wave")


def scripted(index, values):
    """Exactly representable scores, so a printed result can be compared exactly."""
    k = index % 4
    scores = {lab: (0.625 if i == k else 0.125) for i, lab in enumerate(LABELS)}
    return scores, -0.25 - (index % 3) / 8


def _at_boards(tmp_path, n, **kw):
    return [AtFirmware(str(tmp_path / f"ttyACM{i}"), device_id=f"c4:7f:51:01:02:{i:02x}",
                       time_scale=0.01, results=scripted, seed=i, **kw).start()
            for i in range(n)]


def _results(out, port):
    return [o for o in out.by_port(port) if "classification" in o]


def test_several_boards_one_hangs_the_others_keep_going(tmp_path):
    boards = _at_boards(tmp_path, 3)
    out = Collector()
    stop = threading.Event()
    workers = [AtBoardWorker(b.device, OutputSink(out, json_lines=True), stop,
                             hang_timeout=1.0) for b in boards]
    bridge = Bridge(workers, stop).start()
    try:
        assert wait_for(lambda: all(len(_results(out, b.device)) >= 3 for b in boards), 20)
        hung = boards[1]
        hung.faults.hang = True
        time.sleep(0.3)
        before = {b.device: len(_results(out, b.device)) for b in boards}
        time.sleep(1.5)
        after = {b.device: len(_results(out, b.device)) for b in boards}
        # the healthy boards produced results all along; the hung one nothing
        for b in (boards[0], boards[2]):
            assert after[b.device] - before[b.device] >= 5
        assert after[hung.device] == before[hung.device]
        assert wait_for(lambda: workers[1].stats.hangs == 1, 10)
        hung.faults.hang = False                           # it recovers
        n = len(_results(out, hung.device))
        assert wait_for(lambda: len(_results(out, hung.device)) >= n + 3, 20)
        assert wait_for(lambda: len(workers[1].stats.gaps_s) == 1, 5)
        assert workers[1].stats.gaps_s[0] >= 1.0
        assert workers[0].stats.hangs == workers[2].stats.hangs == 0
    finally:
        bridge.stop()
        for b in boards:
            b.close()
    # every result is tagged with its port and its board's id and is exactly what it printed
    for i, b in enumerate(boards):
        res = _results(out, b.device)
        assert {r["device"] for r in res} == {f"c4:7f:51:01:02:{i:02x}"}
        for r in res:
            assert sorted(r) == ["anomaly", "classification", "device", "port", "timing_us"]
            assert sorted(r["classification"].values()) == [0.125, 0.125, 0.125, 0.625]
    # stopping ended each board's loop with 'b' and left it at its prompt
    for b in boards:
        assert wait_for(lambda: not b._busy, 3) and b.breaks >= 1


def test_unplug_and_replug_on_the_same_path(tmp_path):
    (fw,) = _at_boards(tmp_path, 1)
    out = Collector()
    stop = threading.Event()
    worker = AtBoardWorker(fw.device, OutputSink(out, json_lines=True), stop, hang_timeout=2.0)
    bridge = Bridge([worker], stop).start()
    try:
        assert wait_for(lambda: len(_results(out, fw.device)) >= 3, 15)
        fw.unplug()
        assert wait_for(lambda: worker.stats.disconnects == 1, 5)
        time.sleep(0.7)
        fw.replug()        # a new pty (the kernel may reuse its number); the link follows it
        assert fw.link.unplug_count == 1
        n = len(_results(out, fw.device))
        assert wait_for(lambda: len(_results(out, fw.device)) >= n + 3, 15)
        assert len(worker.stats.gaps_s) == 1 and worker.stats.gaps_s[0] >= 0.7
        assert worker.stats.reconnects == 1 and worker.stats.device == "c4:7f:51:01:02:00"
    finally:
        bridge.stop()
        fw.close()


def test_disconnect_mid_result_then_back(tmp_path):
    (fw,) = _at_boards(tmp_path, 1)
    out = Collector()
    stop = threading.Event()
    worker = AtBoardWorker(fw.device, OutputSink(out, json_lines=True), stop, hang_timeout=2.0)
    bridge = Bridge([worker], stop).start()
    try:
        assert wait_for(lambda: len(_results(out, fw.device)) >= 2, 15)
        # cut the wire 3 lines into the stream (inside a result block), back after 0.5 s
        fw.faults.replug_after_s = 0.5
        fw.faults.disconnect_after_lines = 3
        assert wait_for(lambda: worker.stats.disconnects == 1, 10)
        n = len(_results(out, fw.device))
        assert wait_for(lambda: len(_results(out, fw.device)) >= n + 3, 15)
        assert len(worker.stats.gaps_s) == 1
    finally:
        bridge.stop()
        fw.close()
    for r in _results(out, fw.device):       # no half result was passed on
        assert sorted(r["classification"].values()) == [0.125, 0.125, 0.125, 0.625]


def test_garbled_and_truncated_lines_are_counted_not_fatal(tmp_path):
    (fw,) = _at_boards(tmp_path, 1, faults=Faults(garble_rate=0.08, truncate_rate=0.05,
                                                  seed=3))
    out = Collector()
    stop = threading.Event()
    worker = AtBoardWorker(fw.device, OutputSink(out, json_lines=True), stop, hang_timeout=3.0)
    bridge = Bridge([worker], stop).start()
    try:
        assert wait_for(lambda: len(_results(out, fw.device)) >= 15, 40)
    finally:
        bridge.stop()
        fw.close()
    damaged = fw.link.garbled_lines + fw.link.truncated_lines
    assert damaged > 10 and worker.stats.garbled_lines > 0
    assert worker.stats.error is None
    results = _results(out, fw.device)
    # a result reaches the output only with the impulse's labels; a digit garbled into another
    # digit cannot be detected (the firmware has no checksum), any other damage is dropped
    exact = [r for r in results
             if sorted(r["classification"].values()) == [0.125, 0.125, 0.125, 0.625]]
    assert all(set(r["classification"]) == set(LABELS) for r in results)
    assert len(exact) >= 0.7 * len(results)


# --- data-forwarder mode -------------------------------------------------------------------

@pytest.fixture(scope="module")
def demo():
    imp = Impulse.load(DEMO)
    imp.classify(np.zeros((imp.window_samples, 3), dtype=np.float32))
    return imp


class _Tapped(ForwarderWorker):
    """Keeps the readings handed to the stream, to compare them with what the board printed."""

    def _first_session(self):
        super()._first_session()
        self.received = []
        push = self.inference.push

        def tap(rows):
            self.received.append(rows.copy())
            return push(rows)

        self.inference.push = tap


def _source(start, n):
    t = (start + np.arange(n))[:, None] / 62.5
    return np.hstack([3 * np.sin(2 * np.pi * 1.1 * t), 2 * np.cos(2 * np.pi * 0.4 * t),
                      9.81 + np.sin(2 * np.pi * 2.3 * t)])


@pytest.mark.parametrize("sep", [",", "\t", " "])
def test_forwarder_stream_round_trips_and_classifies_like_the_runtime(tmp_path, demo, sep):
    board = ForwarderBoard(str(tmp_path / "ttyUSB0"), n_axes=3, frequency=62.5, separator=sep,
                           source=_source, decimals=5).start()
    out = Collector()
    stop = threading.Event()
    worker = _Tapped(board.device, OutputSink(out, json_lines=True), stop, demo)
    bridge = Bridge([worker], stop).start()
    try:
        assert wait_for(lambda: len(_results(out, board.device)) >= 12, 20)
    finally:
        bridge.stop()
        board.close()
    assert worker.stats.error is None and worker.stats.garbled_lines == 0
    # the host-side stream runs the impulse's compiled plan: one C call per window
    assert worker.inference._stream._plan is demo.plan()
    received = np.concatenate(worker.received)
    sent = board.sent
    start = int(np.flatnonzero((sent == received[0]).all(axis=1))[0])
    # the readings arrive exactly as printed, none lost or reordered
    np.testing.assert_array_equal(received, sent[start:start + len(received)])
    windows = _results(out, board.device)
    expected = demo.classify(received.astype(np.float32))
    assert [w["window"] for w in windows] == list(range(len(windows)))
    for w, e in zip(windows, expected):
        assert sorted(w) == ["anomaly", "classification", "device", "port", "start_ms",
                             "window"]
        assert w["start_ms"] == pytest.approx(e.start_ms)
        for lab in LABELS:
            assert w["classification"][lab] == pytest.approx(e.scores[lab], abs=1e-6)
        assert w["anomaly"] == pytest.approx(e.anomaly, abs=1e-5)


def test_forwarder_rejects_a_rate_the_impulse_cannot_take(tmp_path, demo):
    board = ForwarderBoard(str(tmp_path / "ttyUSB1"), n_axes=3, frequency=100.0).start()
    stop = threading.Event()
    worker = ForwarderWorker(board.device, OutputSink(Collector()), stop, demo)
    try:
        worker.start()
        worker.join(10)
    finally:
        board.close()
    assert not worker.is_alive()
    # lines counted over 1 s, as the data forwarder detects: 100 Hz give 99..101
    assert re.search(r"come at (99|100|101) Hz \(detected\) but the impulse expects 62.5 Hz",
                     worker.stats.error), worker.stats.error


def test_forwarder_err_line_stops_that_board(tmp_path, demo):
    board = ForwarderBoard(str(tmp_path / "ttyUSB2"), n_axes=3, frequency=62.5,
                           error_line=200).start()
    stop = threading.Event()
    worker = ForwarderWorker(board.device, OutputSink(Collector()), stop, demo,
                             frequency=62.5)
    try:
        worker.start()
        worker.join(15)
    finally:
        board.close()
    assert not worker.is_alive() and "ERR: sensor not responding" in worker.stats.error


def test_forwarder_configuration_error_ends_that_board_with_its_message(tmp_path, demo):
    # --axes that do not name the impulse's axes: HostInference refuses (ConfigurationError);
    # the board ends with that message as its error, not as an internal error
    board = ForwarderBoard(str(tmp_path / "ttyUSB4"), n_axes=3, frequency=62.5).start()
    stop = threading.Event()
    worker = ForwarderWorker(board.device, OutputSink(Collector()), stop, demo,
                             axes=["a", "b", "c"], frequency=62.5)
    try:
        worker.start()
        worker.join(10)
    finally:
        board.close()
    assert not worker.is_alive() and worker.stats.windows == 0
    assert worker.stats.error.startswith("the impulse needs axes ") and \
        "(missing " in worker.stats.error, worker.stats.error


def test_forwarder_garbage_unplug_and_replug(tmp_path, demo):
    board = ForwarderBoard(str(tmp_path / "ttyUSB3"), n_axes=3, frequency=62.5,
                           faults=Faults(garble_rate=0.05, truncate_rate=0.05, seed=5)).start()
    out = Collector()
    stop = threading.Event()
    worker = ForwarderWorker(board.device, OutputSink(out, json_lines=True), stop, demo,
                             frequency=62.5, hang_timeout=1.0)
    bridge = Bridge([worker], stop).start()
    try:
        assert wait_for(lambda: len(_results(out, board.device)) >= 5, 20)
        board.unplug()
        assert wait_for(lambda: worker.stats.disconnects == 1, 5)
        time.sleep(0.5)
        board.replug()
        n = len(_results(out, board.device))
        assert wait_for(lambda: len(_results(out, board.device)) >= n + 5, 20)
    finally:
        bridge.stop()
        board.close()
    assert worker.stats.garbled_lines > 0 and len(worker.stats.gaps_s) == 1
    windows = _results(out, board.device)
    assert [w["window"] for w in windows] == list(range(len(windows)))
    starts = [w["start_ms"] for w in windows]
    assert starts == sorted(starts)      # a restarted stream starts after the gap
