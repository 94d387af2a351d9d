"""The hostile catalogue's file-system faults on real mounts (a tmpfs per test; skipped
where mounting is not allowed): a read-only data directory and a full disk are refused
before a run starts, in one line, and the champion on them stays byte-identical."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from hostile_catalogue import CSV, fake_champion, snapshot
from recsys.cli import main


@pytest.fixture
def tmpfs(tmp_path):
    point = tmp_path / "mnt"
    point.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(point)], capture_output=True
    )
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield point
    finally:
        subprocess.run(["umount", "-l", str(point)], check=False)


def _run(data, events, capsys) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["run", "--events", str(events), "--data-dir", str(data)])
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    return code, lines[0]


def test_read_only_data_dir(tmpfs, tmp_path, capsys):
    data = fake_champion(tmpfs / "data")
    before = snapshot(data)
    subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)], check=True)
    (tmp_path / "e.csv").write_text(CSV)
    code, line = _run(data, tmp_path / "e.csv", capsys)
    assert code == 2 and re.search(r"cannot be written: Read-only file system", line)
    assert snapshot(data) == before


def test_read_only_parent_of_a_new_data_dir(tmpfs, tmp_path, capsys):
    subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)], check=True)
    (tmp_path / "e.csv").write_text(CSV)
    code, line = _run(tmpfs / "new", tmp_path / "e.csv", capsys)
    assert code == 2 and "Read-only file system" in line


def test_full_disk(tmpfs, tmp_path, capsys):
    data = fake_champion(tmpfs / "data")
    with open(tmpfs / "ballast", "wb") as handle:  # leave less than a run needs
        while shutil.disk_usage(tmpfs).free > 4 << 20:
            handle.write(b"\0" * (1 << 20))
    before = snapshot(data)
    (tmp_path / "e.csv").write_text(CSV)
    code, line = _run(data, tmp_path / "e.csv", capsys)
    assert code == 1 and re.search(r"bytes free: the disk is full", line)
    assert snapshot(data) == before
