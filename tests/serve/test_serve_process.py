"""`recsys serve` as a process: hot swaps under concurrent requests, refused runs, a clean
stop on SIGTERM and SIGINT, and the command's own checks."""

from __future__ import annotations

import contextlib
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pyarrow.parquet as pq
import pytest

from helpers import copy_run, run_cli
from recsys.model.store import current_run, switch_current

pytestmark = pytest.mark.prefect  # the published run comes from a pipeline run


class Server:
    """`python -m recsys serve` on a free loopback port, its log in a file."""

    def __init__(self, data: Path, log: Path, poll: float = 0.05) -> None:
        cmd = [sys.executable, "-m", "recsys", "serve", "--data-dir", str(data), "--port", "0"]
        self.log = log
        with open(log, "w") as err:
            self.proc = subprocess.Popen(
                [*cmd, "--poll-seconds", str(poll)], stdout=subprocess.PIPE, stderr=err, text=True
            )
        line = self.proc.stdout.readline()
        found = re.search(r"http://[\d.]+:\d+", line)
        assert found, f"no address in {line!r}; log: {log.read_text()}"
        self.url = found.group(0)
        self.client = httpx.Client(base_url=self.url, timeout=10)

    def ready(self) -> str | None:
        try:
            answer = self.client.get("/ready")
        except httpx.TransportError:
            return None
        return answer.json()["run_id"] if answer.status_code == 200 else None

    def metric(self, name: str) -> float:
        text = self.client.get("/metrics").text
        return float(re.search(rf"^{name} (\S+)$", text, re.M).group(1))

    def stop(self, sig: int = signal.SIGTERM) -> int:
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired as exc:
            self.proc.kill()
            self.proc.wait()
            log = self.log.read_text()
            raise AssertionError(f"no exit 30 s after {sig!r}; log:\n{log}") from exc
        finally:
            self.client.close()
            self.proc.stdout.close()


def wait_for(check, timeout: float = 60.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


@pytest.fixture
def server(tmp_path):
    made: list[Server] = []

    def start(data: Path) -> Server:
        made.append(Server(data, tmp_path / f"serve-{len(made)}.log"))
        return made[-1]

    yield start
    for s in made:
        if s.proc.poll() is None:
            s.proc.kill()
            s.proc.wait()


class Clients:
    """Threads sending GET /similar and POST /recommend back to back, each on its own
    keep-alive connection, recording (status or error, run_id, seconds) per answer."""

    def __init__(self, url: str, items: list[str], n: int = 3) -> None:
        self.url, self.items = url, items
        self.stop = threading.Event()
        self.answers: list[list[tuple]] = [[] for _ in range(n)]
        self.threads = [threading.Thread(target=self.run, args=(i,)) for i in range(n)]
        for t in self.threads:
            t.start()

    def run(self, i: int) -> None:
        rng = random.Random(i)
        with httpx.Client(base_url=self.url, timeout=30) as client:
            while not self.stop.is_set():
                start = time.perf_counter()
                try:
                    if rng.random() < 0.5:
                        answer = client.get(f"/similar/{rng.choice(self.items)}", params={"k": 10})
                    else:
                        session = rng.sample(self.items, min(5, len(self.items)))
                        answer = client.post("/recommend", json={"items": session, "k": 10})
                    got = (answer.status_code, answer.json().get("run_id"))
                except httpx.HTTPError as exc:
                    got = (type(exc).__name__, None)
                self.answers[i].append((*got, time.perf_counter() - start))

    def finish(self) -> list[list[tuple]]:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=60)
        return self.answers


def test_swaps_under_load_never_fail_or_go_back(tmp_path, served_data, server):
    """Five switches of `current` while three clients send requests: every request is
    answered 200, and each client's answers never come from an older run than the one
    before; the old runs are released and counted."""
    source = current_run(served_data)
    data = tmp_path / "data"
    ids = [f"2999010{n}T000000Z-swap{n}" for n in range(6)]
    for run_id in ids:
        copy_run(data, source, run_id)
    switch_current(data, ids[0])
    srv = server(data)
    wait_for(lambda: srv.ready() == ids[0], what="the first run")
    items = pq.read_table(source / "vocab.parquet").column("item_id").to_pylist()
    clients = Clients(srv.url, items)
    time.sleep(0.3)
    for run_id in ids[1:]:
        switch_current(data, run_id)
        wait_for(lambda r=run_id: srv.ready() == r, what=run_id)
        time.sleep(0.3)
    answers = clients.finish()
    generation = {run_id: n for n, run_id in enumerate(ids)}
    total = 0
    for mine in answers:
        assert mine, "a client got no answer at all"
        assert {a[0] for a in mine} == {200}, [a for a in mine if a[0] != 200][:5]
        seen = [generation[a[1]] for a in mine]
        assert seen == sorted(seen), "an answer came from an older run than the one before"
        total += len(mine)
    assert {a[1] for mine in answers for a in mine} == set(ids)
    assert max(a[2] for mine in answers for a in mine) < 5.0  # no request stalled on a swap
    assert total > 100
    assert srv.metric("recsys_serve_swaps_total") == len(ids)
    assert srv.metric("recsys_serve_runs_refused_total") == 0
    assert srv.stop() == 0


def test_corrupt_and_half_copied_runs_are_refused(tmp_path, served_data, server):
    """A run whose vectors do not match the manifest, and one with a file missing, are
    refused (logged, counted) while the old run keeps answering; the half-copied one is
    served once its copy completes."""
    source = current_run(served_data)
    data = tmp_path / "data"
    copy_run(data, source, "good")
    switch_current(data, "good")
    srv = server(data)
    wait_for(lambda: srv.ready() == "good", what="the good run")

    corrupt = copy_run(data, source, "corrupt", copied=("vectors.npy",))
    with open(corrupt / "vectors.npy", "r+b") as handle:  # one byte flipped, same size
        handle.seek(-5, os.SEEK_END)
        byte = handle.read(1)
        handle.seek(-5, os.SEEK_END)
        handle.write(bytes([byte[0] ^ 0xFF]))
    switch_current(data, "corrupt")
    wait_for(lambda: srv.metric("recsys_serve_runs_refused_total") == 1, what="a refusal")
    assert srv.ready() == "good"
    answer = srv.client.get("/similar/g6-i6")
    assert answer.status_code == 200 and answer.json()["run_id"] == "good"

    half = copy_run(data, source, "half")
    (half / "index.faiss").unlink()
    switch_current(data, "half")
    wait_for(lambda: srv.metric("recsys_serve_runs_refused_total") == 2, what="a 2nd refusal")
    time.sleep(0.3)  # refused once: not retried (nor counted) while the folder is unchanged
    assert srv.metric("recsys_serve_runs_refused_total") == 2
    assert srv.ready() == "good"
    os.link(source / "index.faiss", half / "index.faiss")  # the copy completes
    wait_for(lambda: srv.ready() == "half", what="the completed run")
    assert srv.metric("recsys_serve_swaps_total") == 2
    assert srv.stop() == 0
    log = srv.log.read_text()
    assert re.search(r"refused corrupt \(.*sha256.*\); still serving good", log), log
    assert re.search(r"refused half \(.*index\.faiss.*\); still serving good", log), log


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_stops_cleanly_on_a_signal(served_data, server, sig):
    srv = server(served_data)
    wait_for(lambda: srv.ready() is not None, what="the model")
    items = ["g6-i6", "g3-i3", "g1-i1"]
    clients = Clients(srv.url, items, n=2)
    time.sleep(0.3)
    started = time.monotonic()
    assert srv.stop(sig) == 0
    assert time.monotonic() - started < 10
    answers = clients.finish()
    answered = [a for mine in answers for a in mine if a[0] == 200]
    assert answered  # answers before the stop; after it only refused connections
    assert all(isinstance(a[0], str) for mine in answers for a in mine if a[0] != 200)
    log = srv.log.read_text()
    assert "Finished server process" in log and "Traceback" not in log


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_while_it_still_starts_is_a_clean_stop(served_data, server, sig):
    """The address line comes before the model loads and uvicorn takes the signals over: a
    stop there used to kill the process (status -15) instead of ending it (0)."""
    srv = server(served_data)  # returns once the address line is out
    assert srv.stop(sig) == 0
    assert "Traceback" not in srv.log.read_text()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_while_the_command_still_imports_is_a_clean_stop(tmp_path, sig):
    """0.2 s in, the CLI's imports (typer, pydantic, the config models: ~0.3 s) are still
    loading, before any handler of the CLI's own: the process died by the signal (143)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "recsys", "serve", "--data-dir", str(tmp_path), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(0.2)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, (out, err)
    assert "Traceback" not in err and "error" not in err


def test_the_command_checks_its_arguments_first(tmp_path, served_data):
    assert run_cli("serve", "--data-dir", tmp_path / "missing") == 2
    assert run_cli("serve", "--data-dir", served_data, "--host", "no-such-host.invalid") == 2
    assert run_cli("serve", "--data-dir", served_data, "--port", "70000") == 2
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert run_cli("serve", "--data-dir", served_data, "--port", port) == 1


def test_a_client_leaving_mid_body_is_not_a_server_error(served_data, server):
    srv = server(served_data)
    wait_for(lambda: srv.ready() is not None, what="the model")
    host, port = srv.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as sock:
        head = "POST /recommend HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        sock.sendall(f"{head}Content-Length: 100\r\n\r\n{{".encode())
    closed = r'recsys_serve_requests_total\{method="POST",route="/recommend",status="499"\}'
    wait_for(lambda: re.search(closed, srv.client.get("/metrics").text), what="a 499")
    text = srv.client.get("/metrics").text
    assert 'status="500"' not in text
    assert srv.client.post("/recommend", json={"items": ["g6-i6"]}).status_code == 200
    assert "Traceback" not in srv.log.read_text() and "ERROR" not in srv.log.read_text()


def test_a_stalled_body_gets_408_and_a_stop_with_stalled_clients_is_clean(served_data, server):
    """A client that sends a body's first byte and stalls held its request until shutdown;
    SIGTERM then waited uvicorn's 10 s and logged a cancelled-task traceback per client."""
    srv = server(served_data)
    wait_for(lambda: srv.ready() is not None, what="the model")
    host, port = srv.url.removeprefix("http://").split(":")
    head = "POST /recommend HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    stalled = [socket.create_connection((host, int(port))) for _ in range(3)]
    with contextlib.ExitStack() as open_sockets:
        for sock in stalled:
            open_sockets.enter_context(sock)
            sock.sendall(f"{head}Content-Length: 100\r\n\r\n{{".encode())
        stalled[0].settimeout(15)
        answer = b""
        while chunk := stalled[0].recv(4096):  # the body timeout (5 s) answers, then closes
            answer += chunk
        answer = answer.decode()
        assert answer.startswith("HTTP/1.1 408") and '"run_id":"' in answer, answer
        assert "not received within 5 s" in answer
        more = socket.create_connection((host, int(port)))
        open_sockets.enter_context(more)
        more.sendall(f"{head}Content-Length: 100\r\n\r\n{{".encode())
        time.sleep(0.5)
        started = time.monotonic()
        assert srv.stop() == 0
        assert time.monotonic() - started < 9  # not uvicorn's whole graceful timeout
    log = srv.log.read_text()
    assert "Traceback" not in log and "ERROR" not in log, log


def test_an_oversized_request_head_is_refused_and_others_are_served(served_data, server):
    # httptools takes a header of any size, at a cost growing with its square: one client
    # sending ~100 MB of header held every other request for tens of seconds.
    srv = server(served_data)
    wait_for(lambda: srv.ready() is not None, what="the model")
    host, port = srv.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(b"GET /ready HTTP/1.1\r\nHost: x\r\nX-Big: ")
        answer = b""
        with contextlib.suppress(OSError):  # the server may close while we still send
            for _ in range(64):
                sock.sendall(b"a" * 65536)
        sock.settimeout(10)
        with contextlib.suppress(OSError):
            while chunk := sock.recv(65536):
                answer += chunk
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
    assert b"request head" in answer and b'"run_id":"' in answer  # every JSON answer has it
    # A normal request with sizeable headers, and two on one keep-alive connection, pass.
    big = {"X-Trace": "t" * 8000}
    assert srv.client.get("/similar/g6-i6", headers=big).status_code == 200
    assert srv.client.get("/similar/g6-i6", headers=big).status_code == 200
    assert "Traceback" not in srv.log.read_text()
