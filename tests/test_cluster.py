"""A cell measured across a Dask cluster (issue 11), on real Dask: a scheduler from a
``LocalCluster`` and worker *processes* started with ``dask worker`` (the command dask-jobqueue
runs on each node), so that each can have its own environment.

Faked, because this machine has one host and no RAPL: each "host" is a fake powercap tree whose
package draws a constant known power (tests/fakes/load_following_powercap.py with 0 W per busy
CPU), and the host's identity comes from ``LEPTON_LAB_HOST_ID``. Two workers share one host id
and one tree, as two workers on one node share its counters. The notebook's own process is a
third host with its own tree.

The machine is busy (other users; `LEPTON_TEST_BURN=1` adds a neighbour, tests/busy.py), so every
message through Dask can take a while: a host's sampler starts and stops some time after the
cell's own edges. The tests bound each host's window by instants they take themselves around
the cell (a host cannot be measured before its worker exists, nor after the cell is over) and
check each host's mean power, which does not depend on when its window began.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

distributed = pytest.importorskip("distributed")

import lepton_lab  # noqa: E402
from lepton_lab.cluster import running_on_workers  # noqa: E402
from lepton_lab.errors import InvalidInput  # noqa: E402
from lepton_lab.sensors import close_cached  # noqa: E402
from tests.fakes.load_following_powercap import longest_step_s  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
POWER_W = {"node-a": 20.0, "node-b": 35.0, "notebook": 10.0}


def _powercap(folder: Path, watts: float) -> subprocess.Popen:
    driver = subprocess.Popen([sys.executable, "-m", "tests.fakes.load_following_powercap", str(folder),
                               str(watts), "0"], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert driver.stdout.readline().strip() == "ready"
    return driver


def _worker(address: str, name: str, host: str, tree: Path, ledger: Path) -> subprocess.Popen:
    env = {**os.environ, "LEPTON_LAB_HOST_ID": host, "LEPTON_LAB_RAPL_ROOT": str(tree / "powercap"),
           "LEPTON_LAB_LEDGER": str(ledger), "LEPTON_LAB_PREWARM": "0", "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", address, "--name", name,
                             "--nthreads", "1", "--no-nanny", "--no-dashboard"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.fixture
def cluster(tmp_path, monkeypatch):
    drivers = {host: _powercap(tmp_path / host, watts) for host, watts in POWER_W.items()}
    monkeypatch.setenv("LEPTON_LAB_HOST_ID", "notebook")
    monkeypatch.setenv("LEPTON_LAB_RAPL_ROOT", str(tmp_path / "notebook" / "powercap"))
    close_cached()
    local = distributed.LocalCluster(n_workers=0, processes=True, dashboard_address=None)
    client = distributed.Client(local, set_as_default=False)
    ledger = tmp_path / "workers.sqlite"
    workers = {name: _worker(local.scheduler_address, name, host, tmp_path / host, ledger)
               for name, host in (("w1", "node-a"), ("w2", "node-a"), ("w3", "node-b"))}
    client.wait_for_workers(3, timeout=60)
    try:
        yield client, workers
        left = running_on_workers(client)
        assert all(not samplers for samplers in left.values()), left  # no sampler outlives its cell
    finally:
        client.close()
        local.close()
        for process in [*workers.values(), *drivers.values()]:
            process.kill()
            process.wait()
        close_cached()


def _busy(seconds: float) -> int:
    end = time.perf_counter() + seconds
    n = 0
    while time.perf_counter() < end:
        n += 1
    return n


def _until(condition, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "not reached in time"
        time.sleep(0.05)


def _host_seconds(report, host: str) -> float:
    """How long ``host``'s own sampler ran: its energy over its mean power (both from its report)."""
    (domain,) = [d for n, d in report.domains.items() if n.startswith(f"{host}/")]
    return domain.energy_j / domain.mean_w


def test_every_host_is_measured_once_and_summed(cluster, tmp_path):
    client, _ = cluster
    before = time.monotonic()
    fed: list[float] = []  # the live view's feed: total joules at each poll
    with lepton_lab.measure(label="cluster", dask=client) as block:
        entered = time.monotonic()
        block.subscribe(lambda sample: fed.append(sum(sample.energy_j.values())))
        futures = client.map(_busy, [2.5] * 3, pure=False)
        assert all(n > 0 for n in client.gather(futures))
        _until(lambda: len(fed) >= 4)  # polls every 0.5 s, slower when Dask's answers are
        leaving = time.monotonic()
    after = time.monotonic()
    report = block.report
    assert set(report.hosts) == {"node-a", "node-b", "notebook"}, report.hosts
    assert report.hosts["node-a"]["workers"] == 2 and report.hosts["node-b"]["workers"] == 1
    assert report.hosts["notebook"]["workers"] == 0
    assert all(h["status"] == "ok" and h["methods"] == ["rapl"] for h in report.hosts.values()), report.hosts
    # Each host's counter read once (node-a's not once per worker), at the fake's power: its mean
    # power is exact up to the counter's lag, whenever its window began and ended.
    for host, watts in POWER_W.items():
        seconds, lag_s = _host_seconds(report, host), longest_step_s(tmp_path / host)
        assert report.hosts[host]["energy_j"] == pytest.approx(watts * seconds, abs=watts * lag_s), host
        # The hosts' samplers start and stop over Dask, while the cell enters and leaves.
        assert leaving - entered <= seconds + lag_s and seconds <= after - before, (host, seconds)
    # The sum: every host's window differs from the cell's by at most entering and leaving.
    edges_s = (entered - before) + (after - leaving) + max(longest_step_s(tmp_path / h) for h in POWER_W)
    expected = sum(POWER_W.values()) * report.duration_s
    assert report.energy_j == pytest.approx(expected, abs=sum(POWER_W.values()) * edges_s), (
        report.energy_j, expected, edges_s, report.hosts)
    assert {d.split("/")[0] for d in report.domains} == set(POWER_W) and all("/" in d for d in report.domains)
    assert report.kind == "measured" and report.host_count == 3
    text = str(report)
    assert "3 hosts of a Dask cluster" in text and "node-a (2 workers)" in text and "notebook (this notebook)" in text
    row = lepton_lab.history(limit=1).iloc[0]
    assert row["hosts"] == 3 and row["energy_j"] == pytest.approx(report.energy_j)
    # The live view's feed: one line per host, total joules rising, all of it in the trace.
    assert set(report.trace["power_w"]) == set(POWER_W) and len(report.trace["t_s"]) >= len(fed) >= 4
    assert fed == sorted(fed), fed


def test_a_host_that_dies_mid_cell_keeps_what_it_had_read(cluster, tmp_path):
    client, workers = cluster
    polled: list[float] = []  # node-b's joules at each poll, as the live view gets them
    before = time.monotonic()
    with lepton_lab.measure(label="lost host", dask=client) as block:
        block.subscribe(lambda sample: polled.append(sample.energy_j.get("node-b", 0.0)))
        # A poll has read node-b for a second or more: that much it must keep when it dies.
        _until(lambda: bool(polled) and polled[-1] >= 35.0 * 1.0)
        read = polled[-1]
        workers["w3"].send_signal(signal.SIGKILL)  # node-b's only worker
        killed = time.monotonic()
        time.sleep(1.6)
        outcome = "the cell's own work went on"
    assert outcome == "the cell's own work went on" and block.report.status == "ok"
    report = block.report
    lost = report.hosts["node-b"]
    assert lost["status"] == "lost", report.hosts
    # What its last answered poll read: at least what the live view showed before the kill, at
    # most 35 W from the cell's start to the kill (and the counter's lag).
    lag_s = longest_step_s(tmp_path / "node-b")
    assert read <= lost["energy_j"] <= 35.0 * (killed - before + lag_s), (read, killed - before, lag_s, lost)
    assert report.hosts["node-a"]["status"] == "ok"
    assert any("1 host(s) lost during the cell (node-b)" in w for w in report.warnings), report.warnings


def test_a_host_that_joins_mid_cell_is_measured_from_then(cluster, tmp_path):
    client, workers = cluster
    address = client.scheduler.address
    before = time.monotonic()
    with lepton_lab.measure(label="joined", dask=client) as block:
        began = time.monotonic()  # the cell's clock started between `before` and this
        time.sleep(0.5)
        spawned = time.monotonic()
        # A new node (its own host id) that happens to read node-b's 35 W tree.
        workers["w4"] = _worker(address, "w4", "node-c", tmp_path / "node-b", tmp_path / "workers.sqlite")
        client.wait_for_workers(4, timeout=30)
        time.sleep(2.5)
        leaving = time.monotonic()
    after = time.monotonic()
    report = block.report
    joined = report.hosts["node-c"]
    assert joined["status"] == "joined", report.hosts
    # Seen after its worker was started and before the cell ended (polls run while the cell does).
    assert spawned - began <= joined["joined_s"] <= leaving - before, (spawned - began, leaving - before, joined)
    # Measured from then to the end of the cell: its sampler ran at least from joined_s (which is
    # taken once it runs) to the cell's end, and at most from its worker's start to after the cell.
    seconds, lag_s = _host_seconds(report, "node-c"), longest_step_s(tmp_path / "node-b")
    assert report.duration_s - joined["joined_s"] - lag_s <= seconds <= after - spawned, (seconds, joined)
    assert joined["energy_j"] == pytest.approx(35.0 * seconds, abs=35.0 * lag_s), joined
    assert any("1 host(s) joined during the cell (node-c)" in w for w in report.warnings), report.warnings
    assert "node-c (1 worker) · JOINED" in str(report)


def test_a_host_without_sensors_is_an_estimate_and_the_cell_says_so(cluster, tmp_path):
    """A node with no readable sensor (an empty powercap root) estimates; the report's kind is
    mixed and labelled, and that host's row says 'estimate'."""
    client, workers = cluster
    workers["w5"] = _worker(client.scheduler.address, "w5", "node-e", tmp_path / "no-sensor",
                            tmp_path / "workers.sqlite")
    client.wait_for_workers(4, timeout=30)
    with lepton_lab.measure(label="mixed", dask=client) as block:
        time.sleep(1.2)
    report = block.report
    assert report.hosts["node-e"]["methods"] == ["estimate"] and report.hosts["node-a"]["methods"] == ["rapl"]
    assert report.kind == "partly estimated", report.kind
    assert "PARTLY ESTIMATED, not a measurement" in str(report) and "node-e (1 worker)" in str(report), str(report)


def test_interrupted_cell_stops_every_host_sampler(cluster):
    client, _ = cluster
    with pytest.raises(KeyboardInterrupt):
        with lepton_lab.measure(label="interrupted", dask=client):
            time.sleep(0.6)
            raise KeyboardInterrupt
    assert lepton_lab.last_report().status == "interrupted"
    assert all(not s for s in running_on_workers(client).values())


def test_two_notebooks_measuring_one_cluster_get_their_own_samplers(cluster):
    client, _ = cluster
    first = lepton_lab.measure(label="one", dask=client, save=False)
    second = lepton_lab.measure(label="two", dask=client, save=False)
    with first:
        with second:
            running = running_on_workers(client)
            assert sum(len(s) for s in running.values()) == 4, running  # 2 hosts × 2 measurements
            time.sleep(1.0)
        time.sleep(1.0)
    assert first.report.duration_s > second.report.duration_s + 0.8
    assert first.report.energy_j > second.report.energy_j


def test_bad_dask_input_is_one_line_before_anything_runs(monkeypatch):
    with pytest.raises(InvalidInput, match="no Dask client"):
        with lepton_lab.measure(dask=True):
            raise AssertionError("the body must not run")
    with pytest.raises(InvalidInput, match="no Dask scheduler answers there"):
        with lepton_lab.measure(dask="tcp://127.0.0.1:9"):
            raise AssertionError("the body must not run")
    with pytest.raises(InvalidInput, match="use one of them"):
        lepton_lab.measure(dask=True, gpus="0")
    with pytest.raises(InvalidInput, match="not a scheduler address"):
        lepton_lab.measure(dask="my cluster")


@pytest.mark.parametrize("flags, expected", [
    ("--dask", "this kernel has no Dask client"),
    ("--dask tcp://127.0.0.1:9", "no Dask scheduler answers there"),
    ("--dask --gpus 0", "--gpus picks GPUs of this machine and --dask"),
    ("--dask --attribute process", "work on one machine only"),
])
def test_bad_dask_flags_stop_the_cell_in_one_line(shell, capsys, flags, expected):
    shell.user_ns["ran"] = False
    result = shell.run_cell(f"%%energy {flags}\nran = True")
    err = capsys.readouterr().err
    assert not result.success and shell.user_ns["ran"] is False
    assert expected in err and "Traceback" not in err, err
    assert len([line for line in err.splitlines() if line.strip()]) == 1, err
