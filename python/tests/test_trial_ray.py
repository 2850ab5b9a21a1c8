"""`vesalius trial --ray`: a trial's rows as tasks of a Ray cluster (a local one, started
here on 127.0.0.1 with 2 CPUs) give the table of a local run, row for row; a worker
killed mid-row is retried; an unreachable address is a clear error and no table.

Needs `ray` in the interpreter running the tests (.ci/run installs it in its venv)."""

from __future__ import annotations

import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time

import pytest

import vesalius

from conftest import ROOT, vesalius_cli

# A probe pressed into blocks of drawn stiffness, one impossible Poisson ratio among the
# draws (its rows are errors): the Rust trial tests' scene and trial (trials/tests/runner.rs).
PRESS = ROOT / "trials/tests/press.toml"

TRIAL = """
scene = "{scene}"
[design]
kind = "lhs"
size = {size}
seed = 7
[cohort]
"size.2" = {{ dist = "fixed", values = [0.05] }}
[materials.default.youngs_modulus]
dist = "uniform"
low = 4.0e3
high = 2.0e4
[materials.default.poisson_ratio]
dist = "fixed"
values = [0.45, 0.45, 0.45, 0.7]
[[behaviour]]
name = "fixed"
kind = "fixed"
[run]
duration = {duration}
"""


def write_trial(folder: pathlib.Path, size: int, duration: float) -> pathlib.Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "trial.toml"
    path.write_text(TRIAL.format(scene=PRESS, size=size, duration=duration))
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A Ray head on 127.0.0.1 with 2 CPUs (workers in this interpreter's environment);
    its address."""
    import ray  # noqa: F401

    ray_bin = pathlib.Path(sys.executable).parent / "ray"
    port = free_port()
    temp = tmp_path_factory.mktemp("ray")
    env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0")
    subprocess.run(
        [str(ray_bin), "start", "--head", "--node-ip-address=127.0.0.1", f"--port={port}",
         "--num-cpus=2", "--include-dashboard=false", "--disable-usage-stats",
         f"--temp-dir={temp}"],
        check=True, env=env, capture_output=True,
    )
    try:
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run([str(ray_bin), "stop", "--force"], env=env, capture_output=True)


def trial(args: list[str], **kw) -> subprocess.CompletedProcess:
    env = dict(os.environ, VESALIUS_PYTHON=sys.executable)
    return subprocess.run(
        [vesalius_cli(), "trial", *args, "--quiet"], env=env, capture_output=True, text=True,
        timeout=600, **kw,
    )


def rows(out: pathlib.Path) -> dict[str, dict]:
    """The journal's rows by id, without the wall time (the one value that differs)."""
    found = {}
    for line in (out / "rows.jsonl").read_text().splitlines():
        row = json.loads(line)
        row["wall_time"] = 0.0
        found[row["id"]] = row
    return found


def table_without_wall_time(out: pathlib.Path) -> list[list[str]]:
    import csv

    with open(out / "results.csv", newline="") as f:
        table = list(csv.reader(f))
    col = table[0].index("wall_time_s")
    return [r[:col] + r[col + 1:] for r in table]


def test_rows_on_ray_are_the_rows_of_a_local_run(cluster, tmp_path):
    path = write_trial(tmp_path, size=8, duration=0.4)
    local = trial([str(path), "--out", str(tmp_path / "local"), "--jobs", "2"])
    assert local.returncode == 0, local.stderr
    on_ray = trial([str(path), "--out", str(tmp_path / "ray"), "--ray", cluster])
    assert on_ray.returncode == 0, on_ray.stderr
    a, b = rows(tmp_path / "local"), rows(tmp_path / "ray")
    assert len(a) == 8
    # Both outcomes and the error rows are there: the comparison is not of empty rows.
    assert {r["passed"] for r in a.values()} == {True, False}
    assert sum(r["error"] is not None for r in a.values()) == 2
    assert a == b
    assert table_without_wall_time(tmp_path / "local") == table_without_wall_time(tmp_path / "ray")
    # The summary of the table (wall times aside) is the same.
    sa = json.loads((tmp_path / "local/summary.json").read_text())
    sb = json.loads((tmp_path / "ray/summary.json").read_text())
    for s in (sa, sb):
        for beh in s["behaviours"]:
            beh.pop("mean_wall_time_s")
    assert sa == sb


def running_rows() -> list[int]:
    """Processes titled `ray::run_row` (a Ray worker running a row), from /proc (no pgrep
    needed)."""
    pids = []
    for entry in pathlib.Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmd = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if cmd.startswith(b"ray::run_row"):
                pids.append(int(entry.name))
    return pids


def test_the_parquet_table_holds_the_rows(tmp_path):
    """results.parquet read by pyarrow (a reader we did not write) against the journal."""
    import pyarrow.parquet as pq

    path = write_trial(tmp_path, size=8, duration=0.4)
    done = trial([str(path), "--out", str(tmp_path / "out"), "--jobs", "2"])
    assert done.returncode == 0, done.stderr
    journal = [json.loads(line) for line in (tmp_path / "out/rows.jsonl").read_text().splitlines()]
    journal.sort(key=lambda r: (r["case"]["index"], r["case"]["repetition"]))
    table = pq.read_table(tmp_path / "out/results.parquet")
    assert table.num_rows == 8
    assert str(table.schema.field("seed").type) == "uint64"
    assert str(table.schema.field("failed").type) == "list<element: string not null>"
    t = table.to_pylist()
    assert [r["id"] for r in t] == [r["id"] for r in journal]
    for mine, row in zip(t, journal):
        assert mine["seed"] == row["case"]["seed"]
        assert mine["passed"] == row["passed"]
        assert mine["failed"] == row["failed"]
        assert mine["events"] == row["events"]
        assert mine["peak_force_n"] == row["peak_force"]  # the same bits, or both None
        assert mine["error"] == row["error"]
        assert mine["wall_time_s"] == row["wall_time"]
        for name, value in row["case"]["values"].items():
            assert mine[name] == value
    # Both outcomes, the error rows' missing forces as nulls, a criterion's name in a list.
    assert {r["passed"] for r in t} == {True, False}
    assert sum(r["peak_force_n"] is None for r in t) == 2
    assert any("max_tool_force" in r["failed"] for r in t)


def test_a_worker_killed_mid_row_is_retried(cluster, tmp_path):
    # Rows of most of a second each (60 s of pressing), so that the kill lands inside one.
    path = write_trial(tmp_path, size=4, duration=60.0)
    env = dict(os.environ, VESALIUS_PYTHON=sys.executable)
    out = tmp_path / "ray"
    run = subprocess.Popen(
        [vesalius_cli(), "trial", str(path), "--out", str(out), "--ray", cluster, "--quiet"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    # A worker running a row is titled `ray::run_row`.
    killed = None
    deadline = time.monotonic() + 120
    while killed is None and time.monotonic() < deadline and run.poll() is None:
        pids = running_rows()
        if pids:
            os.kill(pids[0], signal.SIGKILL)
            killed = pids[0]
        else:
            time.sleep(0.05)
    stdout, stderr = run.communicate(timeout=600)
    assert killed is not None, f"no row ever ran on a worker: {stderr}"
    assert run.returncode == 0, stderr
    local = trial([str(path), "--out", str(tmp_path / "local"), "--jobs", "2"])
    assert local.returncode == 0, local.stderr
    assert rows(out) == rows(tmp_path / "local")


def test_an_unreachable_address_is_an_error_and_no_table(tmp_path):
    path = write_trial(tmp_path, size=2, duration=0.4)
    out = tmp_path / "out"
    port = free_port()  # nothing listens there
    done = trial([str(path), "--out", str(out), "--ray", f"127.0.0.1:{port}"])
    assert done.returncode != 0
    assert f"127.0.0.1:{port}" in done.stderr and "unreachable" in done.stderr, done.stderr
    assert not (out / "results.csv").exists()
    assert not (out / "rows.jsonl").exists() or (out / "rows.jsonl").read_text() == ""
    # A finished trial needs no cluster: the same command on its folder rewrites the table.
    local = trial([str(path), "--out", str(out), "--jobs", "2"])
    assert local.returncode == 0, local.stderr
    again = trial([str(path), "--out", str(out), "--ray", f"127.0.0.1:{port}"])
    assert again.returncode == 0, again.stderr
    assert "0 run now, 2 from an earlier run" in again.stderr, again.stderr


def test_a_trial_row_runs_alone_from_python(tmp_path):
    path = write_trial(tmp_path, size=4, duration=0.4)
    t = vesalius.Trial.load(path)
    assert t.rows == [f"c000{i}-r0/fixed" for i in range(4)]
    assert len(t.fingerprint) == 16
    row = json.loads(t.run_row("c0001-r0/fixed"))
    # The binary's row of the same id (`--case` prints it), wall time aside.
    alone = trial([str(path), "--out", str(tmp_path / "out"), "--case", "c0001-r0/fixed"])
    assert alone.returncode == 0, alone.stderr
    theirs = json.loads(alone.stdout.strip().splitlines()[-1])
    row["wall_time"] = theirs["wall_time"] = 0.0
    assert row == theirs
    with pytest.raises(KeyError, match="c0009-r0/fixed"):
        t.run_row("c0009-r0/fixed")
    (tmp_path / "bad.toml").write_text(TRIAL.format(scene=PRESS, size=4, duration=0.4) + "colour = 1\n")
    with pytest.raises(vesalius.TrialError, match="colour"):
        vesalius.Trial.load(tmp_path / "bad.toml")
