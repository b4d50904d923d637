"""Worker faults on PostgreSQL: a worker killed (SIGKILL) mid-job, and one that died while submitting.

A job that outlives its worker needs a vendor whose jobs live outside the worker process, so the vendor
here is a stand-in for a vendor's cloud (tests/vendor_standin.py, a loopback HTTP service in the test
process); it is the only stand-in. The workers are real `govern worker` processes on a real PostgreSQL
queue, and they find the stand-in's backend plugin through a real `govern.backends` entry point.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from govern.api import create_app
from govern.backends.base import DispatchRequest, JobState
from govern.backends.registry import ENTRY_POINT_GROUP, _vendor_entry_points, get_backend
from govern.db.tables import JobRecord, JobStatus, ResultRecord, utcnow
from govern.dispatch.queue import FINAL
from govern.dispatch.worker import Worker, WorkerOptions
from govern.settings import Settings
from tests.conftest import ROOT
from tests.dispatch.test_dispatch import bell, lineage, submit
from tests.lineage_schemas import validate_event
from tests.live_service import wait_for
from tests.vendor_standin import URL_VARIABLE, VENDOR, VendorStandIn

pytestmark = [pytest.mark.parametrize("database_url", ["postgresql"], indirect=True), pytest.mark.slow]

LEASE_S = 1.0
"""Short, so a dead worker's job is taken over quickly."""


@pytest.fixture
def client(database_url):
    with TestClient(create_app(Settings(database_url=database_url, migrate_on_start=True, lineage_delivery=False))) as client:
        yield client


@pytest.fixture
def vendor() -> Iterator[VendorStandIn]:
    """The stand-in vendor; its jobs run until the test calls `finish()`."""
    with VendorStandIn(run_s=None) as vendor:
        yield vendor


@pytest.fixture
def plugin_site(tmp_path) -> Path:
    """A folder holding an installed distribution whose entry point registers the stand-in as vendor `standin`."""
    site = tmp_path / "site"
    dist_info = site / "standin_vendor-0.1.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: standin-vendor\nVersion: 0.1\n")
    (dist_info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\n{VENDOR} = tests.vendor_standin:standin_backend\n")
    return site


def queued_on_standin(client) -> JobRecord:
    """Submit the allowed Bell example and point its queued job at the stand-in vendor.

    The policy catalogue has no stand-in vendor, so the job row is retargeted in the database after the
    decision; a shortcut for a fault test, where what is under test is the worker, not the decision."""
    headers, body = bell(client)
    submission_id = submit(client, headers, body)
    with Session(client.app.state.db) as session:
        job = session.exec(select(JobRecord).where(JobRecord.submission_id == submission_id)).one()
        job.vendor, job.device, job.fallback = VENDOR, "bell", None
        session.add(job)
        session.commit()
        session.refresh(job)
        return job


def stored(client, job_id: str) -> JobRecord:
    with Session(client.app.state.db) as session:
        return session.get(JobRecord, job_id)


def worker_environment(database_url: str, plugin_site: Path, vendor: VendorStandIn) -> dict[str, str]:
    python_path = [str(plugin_site), str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(python_path),
        "GOVERN_DATABASE_URL": database_url,
        "GOVERN_WORKER_LEASE_S": str(LEASE_S),
        "GOVERN_WORKER_POLL_S": "0.1",
        "GOVERN_JOB_TIMEOUT_S": "120",
        URL_VARIABLE: vendor.url,
    }


@contextmanager
def worker_process(environment: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    """A `govern worker` process, killed on the way out if the test left it running."""
    with log.open("wb") as output:
        process = subprocess.Popen([sys.executable, "-m", "govern", "worker"], env=environment, cwd=ROOT,
                                   stdout=output, stderr=subprocess.STDOUT)
        try:
            yield process
        finally:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=30)


def job_reaches(client, job_id: str, process: subprocess.Popen, log: Path, condition, what: str) -> JobRecord:
    """Poll the job row until `condition(job)` holds; fail at once, with the worker's log, if the worker exits."""

    def check() -> JobRecord | None:
        if process.poll() is not None:
            pytest.fail(f"the worker exited ({process.returncode}) before {what}:\n{log.read_text()}")
        job = stored(client, job_id)
        return job if condition(job) else None

    return wait_for(check, timeout_s=60, what=what)


def test_a_worker_killed_mid_job_is_replaced_and_the_job_ends_once_without_a_second_submission(
    client, database_url, vendor, plugin_site, tmp_path
):
    job = queued_on_standin(client)
    environment = worker_environment(database_url, plugin_site, vendor)
    registered = subprocess.run(
        [sys.executable, "-c", f"import importlib.metadata as m; print([e.value for e in m.entry_points(group={ENTRY_POINT_GROUP!r})])"],
        env=environment, cwd=ROOT, capture_output=True, text=True, check=True,
    )
    assert "tests.vendor_standin:standin_backend" in registered.stdout

    first_log, second_log = tmp_path / "first-worker.log", tmp_path / "second-worker.log"
    with worker_process(environment, first_log) as first:
        running = job_reaches(client, job.id, first, first_log,
                              lambda job: job.status == JobStatus.RUNNING.value and job.vendor_job_id, "the job runs at the vendor")
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    assert len(vendor.submissions) == 1
    assert stored(client, job.id).lease_owner is not None  # the dead worker still holds it, until its lease expires

    with worker_process(environment, second_log) as second:
        job_reaches(client, job.id, second, second_log, lambda job: job.attempts == 2, "a second worker takes the job over")
        vendor.finish()
        finished = job_reaches(client, job.id, second, second_log, lambda job: job.status in FINAL, "the job ends")
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=30) == 0, second_log.read_text()

    assert finished.status == JobStatus.SUCCEEDED.value, second_log.read_text()
    assert (finished.attempts, finished.vendor_job_id, finished.error) == (2, running.vendor_job_id, None)
    assert len(vendor.submissions) == 1
    with Session(client.app.state.db) as session:
        (result,) = session.exec(select(ResultRecord).where(ResultRecord.job_id == job.id)).all()
    assert result.counts == {"00": 1024, "11": 1024}
    events = lineage(client, job.run_id)
    assert [event["eventType"] for event in events] == ["START", "RUNNING", "COMPLETE"]
    for event in events:
        validate_event(event)


def left_by_a_dead_worker(client, job_id: str, **fields) -> None:
    """Set the job row as a worker that died leaves it: its fields, and a lease that has expired."""
    with Session(client.app.state.db) as session:
        job = session.get(JobRecord, job_id)
        job.attempts, job.started_at = 1, utcnow()
        job.lease_owner, job.lease_expires_at = "dead-worker", utcnow() - timedelta(seconds=LEASE_S)
        for name, value in fields.items():
            setattr(job, name, value)
        session.add(job)
        session.commit()


@pytest.fixture(autouse=True)
def forget_plugins_afterwards():
    """The stand-in's site folder is gone after its test; later tests must not find its entry point."""
    yield
    _vendor_entry_points.cache_clear()


def in_process_worker(client, vendor: VendorStandIn, plugin_site: Path, monkeypatch) -> Worker:
    """A worker in the test process that finds the stand-in through the same entry point as the worker processes."""
    monkeypatch.syspath_prepend(str(plugin_site))
    monkeypatch.setenv(URL_VARIABLE, vendor.url)
    _vendor_entry_points.cache_clear()  # plugins are found once per process; this one was installed just now
    return Worker(client.app.state.db, WorkerOptions(lease_s=LEASE_S, poll_s=0.05, job_timeout_s=60, call_grace_s=2.0))


def test_a_vendor_job_cut_off_before_its_id_came_back_is_failed_not_submitted_again(client, vendor, plugin_site, monkeypatch):
    job = queued_on_standin(client)
    left_by_a_dead_worker(client, job.id, status=JobStatus.SUBMITTED.value)  # it died inside the vendor's submit call
    assert in_process_worker(client, vendor, plugin_site, monkeypatch).run_until_idle() == 1

    failed = stored(client, job.id)
    assert failed.status == JobStatus.FAILED.value and "not submitted again" in failed.error
    assert failed.vendor_job_id is None and vendor.submissions == []
    events = lineage(client, job.run_id)
    assert [event["eventType"] for event in events] == ["START", "FAIL"]
    assert "not submitted again" in events[-1]["run"]["facets"]["errorMessage"]["message"]
    for event in events:
        validate_event(event)


def test_a_cancelled_job_taken_over_from_a_dead_worker_is_cancelled_at_the_vendor(client, vendor, plugin_site, monkeypatch):
    job = queued_on_standin(client)
    worker = in_process_worker(client, vendor, plugin_site, monkeypatch)
    vendor_job_id = get_backend(VENDOR, "bell").submit(
        DispatchRequest(qasm=job.qasm, shots=job.shots, seed_transpiler=job.seed_transpiler, seed_simulator=job.seed_simulator))
    left_by_a_dead_worker(client, job.id, status=JobStatus.RUNNING.value, vendor_job_id=vendor_job_id, cancel_requested=True)
    assert worker.run_until_idle() == 1

    cancelled = stored(client, job.id)
    assert (cancelled.status, cancelled.error) == (JobStatus.CANCELLED.value, "cancelled on request")
    assert get_backend(VENDOR, "bell").status(vendor_job_id) is JobState.CANCELLED
    assert len(vendor.submissions) == 1
    ended = lineage(client, job.run_id)[-1]
    assert ended["eventType"] == "ABORT"
    validate_event(ended)
