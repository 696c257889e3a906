"""`edgert classify-all`: the JSON page, the readable summary, filters from flags, --help."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from edgert.cli import build_parser, main as cli_main

HERE = Path(__file__).parent
DATA = HERE / "data" / "dataset" / "motion"
BUNDLE = HERE / "data" / "motion-demo"
KEY = "dataset-test-hmac-key"


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    dst = tmp_path_factory.mktemp("cli") / "motion"
    shutil.copytree(DATA, dst)
    return dst


def run(capsys, *argv):
    rc = cli_main(["-q", "classify-all", str(BUNDLE), *map(str, argv)])
    return rc, capsys.readouterr().out


def test_json_page_with_filters_and_paging(folder, capsys):
    rc, out = run(capsys, folder, "--hmac-key", KEY, "--labels", "idle,snake",
                  "--signature-validity", "valid", "--limit", "2", "--offset", "1", "--json")
    assert rc == 0
    page = json.loads(out)
    # valid signatures among idle/snake testing samples: loose, idle.01, idle.fast,
    # idle.long, idle.short, snake.07, snake.25 (idle.02 is signed with another key)
    assert page["totalCount"] == 7
    assert [r["sample"]["filename"] for r in page["result"]] == ["idle.01", "idle.fast"]
    m = page["modelValidationMetrics"][0]
    assert m["sampleCount"] == 7 and m["windowCount"] == 1 + 1 + 1 + 51 + 1 + 1 + 1


def test_metadata_and_search_flags(folder, capsys):
    rc, out = run(capsys, folder, "--metadata",
                  '[{"key": "site", "op": "eq", "values": ["A"]}]', "--json")
    assert rc == 0
    assert {r["sample"]["filename"] for r in json.loads(out)["result"]} == {"idle.01",
                                                                           "wave.00"}
    rc, out = run(capsys, folder, "--search", "wave 1", "--json")
    assert {r["sample"]["filename"] for r in json.loads(out)["result"]} == {"wave.11",
                                                                           "wave.13"}
    rc, out = run(capsys, folder, "--category", "training", "--min-label", "3", "--json")
    assert [r["sample"]["filename"] for r in json.loads(out)["result"]] == ["reg.b"]


def test_readable_summary(folder, capsys):
    rc, out = run(capsys, folder, "--min-length", "1000", "--max-length", "3000")
    assert rc == 0
    assert "accuracy:" in out and "confusion matrix" in out
    lines = out.splitlines()
    head = next(i for i, x in enumerate(lines) if x.startswith("confusion matrix"))
    assert lines[head + 1].split()[:4] == ["idle", "snake", "updown", "wave"]
    assert "samples 1-" in out and "updown.16" in out and "anomaly 1" in out
    rc, out = run(capsys, folder)                       # corrupt files listed, still rc 0
    assert rc == 0 and "not classified: sample" in out and "broken" in out


def test_bad_flag_values(folder, capsys, caplog):
    rc, _ = run(capsys, folder, "--metadata", "[{")
    assert rc == 1 and "metadata" in caplog.text
    rc, _ = run(capsys, folder, "--variant", "float32")
    assert rc == 1 and "float32" in caplog.text


def test_help_teaches():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    text = sub.choices["classify-all"].format_help()
    for flag in ("--labels", "--filename", "--min-length", "--max-length", "--min-frequency",
                 "--max-frequency", "--signature-validity", "--min-label", "--max-label",
                 "--search", "--data-type", "--min-id", "--max-id", "--metadata",
                 "--min-date", "--max-date", "--limit", "--offset", "--variant", "--threads",
                 "--json", "examples:"):
        assert flag in text
    fit = sub.choices["anomaly"]._subparsers._group_actions[0].choices["fit"].format_help()
    for flag in ("--clusters", "--axes", "--seed", "--out", "examples:", "maxError"):
        assert flag in fit
