"""The hostile catalogue's command-line cases: each is refused before Prefect starts, in one
line naming the key, file or rule, with the contract's exit code, and the champion stays
byte-identical (tests/hostile_catalogue.py)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time

import pytest

from hostile_catalogue import PREFLIGHT, fake_champion, snapshot
from recsys.cli import main
from recsys.exitcodes import failure
from recsys.ops import server
from recsys.summary import query_rows


class _PrefectStarted(BaseException):
    """Raised if a case got as far as starting the Prefect API."""


@pytest.fixture
def no_prefect(monkeypatch):
    def refuse():
        raise _PrefectStarted

    monkeypatch.setattr(server, "start_local_api", refuse)


@pytest.mark.parametrize("name", sorted(PREFLIGHT))
def test_refused_before_prefect_in_one_line(tmp_path, capsys, no_prefect, name):
    case = PREFLIGHT[name]
    data = fake_champion(tmp_path / "data")
    args = case.args(tmp_path)
    before = snapshot(data)  # after the case planted what it needs (rollback's folders)
    if "--data-dir" not in args and args[0] in ("run", "similar", "rollback", "tune"):
        args = [args[0], "--data-dir", str(data), *args[1:]]
    capsys.readouterr()
    code = main(args)
    out = capsys.readouterr()
    lines = out.err.strip().splitlines()
    assert code == case.code, out.err
    assert len(lines) == 1 and lines[0].startswith("error: "), out.err
    assert re.search(case.match, lines[0]), lines[0]
    assert "Traceback" not in out.err + out.out and "SECRET" not in out.err + out.out
    assert snapshot(data) == before
    assert not (data / "work").exists()  # no run was opened


def test_the_catalogue_is_large(tmp_path):
    assert len(PREFLIGHT) >= 100


def test_a_missing_events_file_fails_in_under_two_seconds_as_a_process(tmp_path):
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "recsys", "run", "--events", str(tmp_path / "no.csv")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"error: events file not found: '{tmp_path}/no.csv'"
    ]
    assert time.monotonic() - started < 2 * 3  # 2 s on a quiet machine; this one is shared


def test_usage_errors_exit_2_as_a_process(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "recsys", "run", "--no-such-flag"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: No such option: --no-such-flag (see 'recsys run --help')"
    ]


@pytest.mark.parametrize("k", ["3", "4", "5", "100"])
def test_similar_never_returns_the_item_itself(tmp_path, capsys, k):
    data = fake_champion(tmp_path / "data")  # 5 items
    capsys.readouterr()
    assert main(["similar", "i2", "-k", k, "--data-dir", str(data), "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == min(int(k), 4) and "i2" not in {r["item_id"] for r in rows}


def test_runs_explains_an_empty_data_dir(tmp_path, capsys):
    assert main(["runs", "--data-dir", str(tmp_path / "empty")]) == 0
    err = capsys.readouterr().err
    assert err.startswith("no runs in ") and f"{tmp_path / 'empty'} does not exist yet" in err
    (tmp_path / "empty").mkdir()
    assert main(["runs", "--data-dir", str(tmp_path / "empty")]) == 0
    assert "does not exist" not in capsys.readouterr().err
    assert main(["runs", "--json", "--data-dir", str(tmp_path / "empty")]) == 0
    assert capsys.readouterr().out == ""  # JSON lines only: none


@pytest.mark.parametrize(
    "exc",
    [
        OSError(28, "No space left on device"),
        OSError("25600 requested and 24544 written"),  # numpy's short write
        RuntimeError("IO Error: Async write failed: No space left on device"),
    ],
)
def test_a_full_disk_is_named_whatever_reports_it(capsys, exc):
    assert failure(exc) == 1
    assert capsys.readouterr().err.startswith("error: no space left on the disk")


def test_runs_refuses_a_file_and_reports_a_current_that_points_nowhere(tmp_path, capsys):
    events = tmp_path / "events.csv"
    events.write_text("user_id,item_id,timestamp\n")
    for command in (["runs"], ["similar", "a"], ["recommend", "u"], ["rollback"]):
        # every command says so (similar, recommend and rollback said "no published model")
        assert main([*command, "--data-dir", str(events)]) == 2, command
        assert "is a file, not a directory" in capsys.readouterr().err
    for command in (["similar", "a"], ["recommend", "u"]):
        # a mistyped --data-dir said "no published model" (exit 1), as an empty one does
        assert main([*command, "--data-dir", str(tmp_path / "typo")]) == 2, command
        assert capsys.readouterr().err == f"error: --data-dir {tmp_path / 'typo'} does not exist\n"
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    for command in (["run"], ["runs"], ["rollback"]):  # `run` said "cannot be written: File exists"
        assert main([*command, "--data-dir", str(tmp_path / "loop")]) == 2, command
        assert "is a symlink to nothing (dangling, or a loop)" in capsys.readouterr().err
    data = fake_champion(tmp_path / "data")
    current = data / "published" / "current"
    current.unlink()
    current.symlink_to("../runs/GONE")
    capsys.readouterr()
    assert main(["runs", "--data-dir", str(data)]) == 1
    out, err = capsys.readouterr()
    assert out.strip()  # the kept runs are still listed
    assert len(err.strip().splitlines()) == 1 and "GONE" in err and "manifest.json" in err


def test_tsv_rows_keep_their_columns_whatever_the_ids_hold():
    ids = ["plain", "tab\there", "line\nbreak", "back\\slash\\t", "cr\r"]
    rows = [{"rank": i + 1, "item_id": v, "score": 0.5, "source": "sr"} for i, v in enumerate(ids)]
    lines = query_rows(rows)
    assert all(len(line.split("\t")) == 4 and "\n" not in line for line in lines)
    # Escaped as Python writes them: decoding gives back the id exactly.
    decoded = [line.split("\t")[1].encode().decode("unicode_escape") for line in lines]
    assert decoded == ids
