"""Local simulations run in killable run processes: a run past its deadline or its memory cap is ended by
killing its process, its job fails with the reason, and the worker serves the next job."""

from __future__ import annotations

import os
import threading
import time

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from govern.api import create_app
from govern.backends.isolated import run_environment, run_pool
from govern.db.tables import JobRecord
from govern.dispatch.worker import Worker, WorkerOptions
from govern.settings import Settings
from tests.dispatch.test_dispatch import bell, jobs, lineage, submit
from tests.test_process_pool import gone

pytestmark = pytest.mark.slow

QUBITS = 22
SLOW = (f'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[{QUBITS}];\ncreg c[{QUBITS}];\nh q;\nt q;\nmeasure q[0] -> c[0];\n'
        + "".join(f"rx(0.{i + 1}) q;\ncx q[{i % QUBITS}],q[{(i + 1) % QUBITS}];\n" for i in range(40)) + "measure q -> c;\n")
"""A mid-circuit measurement makes Aer simulate each of the 2,048 shots on its own: minutes."""
WIDE = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[26];\ncreg c[26];\nh q;\nt q;\nmeasure q -> c;\n'
"""A 26-qubit statevector: 1 GiB."""


@pytest.fixture
def client(database_url):
    with TestClient(create_app(Settings(database_url=database_url, migrate_on_start=True, lineage_delivery=False))) as client:
        yield client


def warm_run_process(memory_mb: int) -> int:
    """The pid of the idle run process that the next job will take: the one used last."""
    pool = run_pool(memory_mb << 20)
    deadline = time.monotonic() + 60
    while not pool.processes() and time.monotonic() < deadline:
        time.sleep(0.05)
    return pool.processes()[-1].pid


def replace_circuit(client, submission_id: str, qasm: str) -> None:
    with Session(client.app.state.db) as session:
        job = session.exec(select(JobRecord).where(JobRecord.submission_id == submission_id)).one()
        job.qasm = qasm
        session.add(job)
        session.commit()


@pytest.mark.parametrize(
    ("circuit", "memory_mb", "reason"),
    [(SLOW, 3001, "timed out after"), (WIDE, 256, "ran past its memory cap (256 MB); its run process was killed")],
    ids=["deadline", "memory"],
)
def test_a_run_past_its_limit_is_killed_its_job_fails_and_the_next_job_runs(client, circuit, memory_mb, reason):
    headers, body = bell(client)
    runaway, healthy = submit(client, headers, body), submit(client, headers, body)
    replace_circuit(client, runaway, circuit)
    child = warm_run_process(memory_mb)
    options = WorkerOptions(lease_s=1.0, poll_s=0.05, job_timeout_s=3.0, call_grace_s=30, job_memory_mb=memory_mb)
    started = time.monotonic()
    assert Worker(client.app.state.db, options).run_until_idle() == 2
    assert time.monotonic() - started < 60
    (failed,), (succeeded,) = jobs(client, runaway, headers), jobs(client, healthy, headers)
    assert failed["status"] == "failed" and reason in failed["error"] and "its run process was killed" in failed["error"]
    assert gone(child)
    assert succeeded["status"] == "succeeded"
    assert lineage(client, failed["run_id"])[-1]["eventType"] == "FAIL"


def test_run_processes_get_no_credentials(monkeypatch):
    monkeypatch.setenv("IBM_QUANTUM_TOKEN", "tok-secret-9f8e7d")
    monkeypatch.setenv("GOVERN_TOKEN", "gov_secret")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-secret")
    assert set(run_environment()) <= set(os.environ) and "PATH" in run_environment()
    pid = warm_run_process(3002)
    with open(f"/proc/{pid}/environ", "rb") as environ:
        seen = environ.read()
    assert b"tok-secret-9f8e7d" not in seen and b"gov_secret" not in seen and b"aws-secret" not in seen
    assert os.environ.get("PYTHONPATH", "").encode() in seen


def test_cancelling_a_run_kills_its_process_and_the_wait_says_so():
    from govern.backends.base import BackendError, DispatchRequest
    from govern.backends.isolated import isolated
    from govern.backends.registry import get_backend

    pid = warm_run_process(3003)
    backend = isolated(get_backend("local", "aer_simulator"), 3003 << 20)
    job = backend.submit(DispatchRequest(SLOW, shots=2048, seed_transpiler=1, seed_simulator=1, timeout_s=120))
    assert backend.availability().pending_jobs == 1
    threading.Timer(0.5, backend.cancel, args=(job,)).start()
    with pytest.raises(BackendError, match=r"ended with its run process \(killed by SIGKILL\)"):
        backend.wait(job, 120)
    assert gone(pid) and backend.availability().pending_jobs == 0
