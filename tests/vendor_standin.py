"""A loopback stand-in for a vendor's quantum cloud, and the backend plugin that talks to it over HTTP.

No vendor's cloud can be reached from the tests, and a simulator's jobs die with the worker that runs
them; this stand-in's jobs live in the test process, so they outlive a worker that is killed, as a real
vendor's jobs do. It counts every submission, so a test can tell whether a job was submitted twice.

The protocol is a small REST one: `POST /jobs` starts a job and answers its id, `GET /jobs/<id>` answers
its status (QUEUED, RUNNING, DONE or CANCELLED) and, once DONE, its counts, `POST /jobs/<id>/cancel`
cancels it. A Bell-like run measures all zeros in half the shots and all ones in the other half.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

import httpx

from govern.backends.base import (
    Availability,
    Backend,
    BackendError,
    DispatchRequest,
    Execution,
    JobState,
    VendorJobLost,
    poll_until_final,
    translated_errors,
)
from govern.backends.checks import build_execution, job_state
from govern.backends.registry import lists_devices, unknown_device
from govern.backends.transpile import load_circuit, transpiled_metrics
from tests.opa_standin import QuietServer, send_json

VENDOR = "standin"
DEVICES = ("bell",)
URL_VARIABLE = "STANDIN_VENDOR_URL"
"""Where the plugin finds the stand-in; set for the worker processes that dispatch to it."""


@dataclass
class _VendorJob:
    request: dict[str, Any]
    width: int
    transpiled: dict
    submitted_at: float = field(default_factory=time.monotonic)
    cancelled: bool = False


class VendorStandIn:
    """The vendor's cloud, on a loopback port for as long as the `with` block runs.

    A job is QUEUED for `queued_s`, then RUNNING for `run_s` (None: until `finish()`), then DONE.
    """

    def __init__(self, run_s: float | None = 0.5, queued_s: float = 0.2):
        self.run_s, self.queued_s = run_s, queued_s
        self.submissions: list[dict[str, Any]] = []
        self._jobs: dict[str, _VendorJob] = {}
        self._lock = threading.Lock()
        self._finished = threading.Event()
        self._server = QuietServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="vendor-standin", daemon=True)

    def __enter__(self) -> VendorStandIn:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def finish(self) -> None:
        """End every running job now (DONE), for tests that must control when a job ends."""
        self._finished.set()

    def _submit(self, request: dict[str, Any]) -> str:
        circuit = load_circuit(request["qasm"])
        job_id = f"{VENDOR}-{uuid.uuid4().hex[:12]}"
        with self._lock:
            self.submissions.append(request)
            self._jobs[job_id] = _VendorJob(request=request, width=circuit.num_clbits, transpiled=transpiled_metrics(circuit))
        return job_id

    def _describe(self, job_id: str) -> dict[str, Any] | None:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            return None
        shots = job.request["shots"]
        description = {"id": job_id, "status": self._status(job), **{key: job.request[key] for key in ("shots", "seed_transpiler", "seed_simulator")}}
        if description["status"] == "DONE":
            description["counts"] = {"0" * job.width: shots // 2, "1" * job.width: shots - shots // 2}
            description["transpiled"] = job.transpiled
        return description

    def _status(self, job: _VendorJob) -> str:
        elapsed = time.monotonic() - job.submitted_at
        if job.cancelled:
            return "CANCELLED"
        if elapsed < self.queued_s:
            return "QUEUED"
        if self._finished.is_set() or (self.run_s is not None and elapsed >= self.queued_s + self.run_s):
            return "DONE"
        return "RUNNING"

    def _cancel(self, job_id: str) -> bool:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is not None:
                job.cancelled = True
        return job is not None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                parts = self.path.strip("/").split("/")
                if parts == ["jobs"]:
                    try:
                        send_json(self, 201, {"id": standin._submit(body)})
                    except BackendError as exc:  # a circuit the vendor cannot run
                        send_json(self, 400, {"error": str(exc)})
                elif len(parts) == 3 and parts[0] == "jobs" and parts[2] == "cancel" and standin._cancel(parts[1]):
                    send_json(self, 200, {"id": parts[1]})
                else:
                    send_json(self, 404, {"error": f"no such job or path: {self.path}"})

            def do_GET(self) -> None:
                parts = self.path.strip("/").split("/")
                description = standin._describe(parts[1]) if len(parts) == 2 and parts[0] == "jobs" else None
                if description is None:
                    send_json(self, 404, {"error": f"no such job or path: {self.path}"})
                else:
                    send_json(self, 200, description)

        return Handler


class StandInBackend(Backend):
    """A vendor device reached over HTTP: its jobs outlive this process, so it is no simulator."""

    simulator = False

    def __init__(self, device: str, url: str):
        self.device, self.key, self.url = device, f"{VENDOR}/{device}", url.rstrip("/")

    def availability(self) -> Availability:
        return Availability(available=True, pending_jobs=0, queue_minutes=0.0)

    def submit(self, request: DispatchRequest) -> str:
        body = {"qasm": request.qasm, "shots": request.shots, "seed_transpiler": request.seed_transpiler,
                "seed_simulator": request.seed_simulator}
        return str(self._call("POST", "/jobs", json=body)["id"])

    def status(self, vendor_job_id: str) -> JobState:
        return job_state(self._call("GET", f"/jobs/{vendor_job_id}")["status"])

    def wait(self, vendor_job_id: str, timeout_s: float) -> Execution:
        state = poll_until_final(lambda: self.status(vendor_job_id), timeout_s, first_interval_s=0.05, max_interval_s=0.25)
        if state is None:
            self.cancel(vendor_job_id)
            raise BackendError(f"{self.key} job {vendor_job_id} timed out after {timeout_s:g} s and was cancelled")
        if state is not JobState.DONE:
            raise BackendError(f"{self.key} job {vendor_job_id} ended {state.value}")
        job = self._call("GET", f"/jobs/{vendor_job_id}")
        return build_execution(
            vendor_job_id=vendor_job_id, device=self.device, raw_counts=job.get("counts"), shots=job["shots"],
            transpiled=job.get("transpiled", {}), seed_transpiler=job["seed_transpiler"], seed_simulator=job["seed_simulator"],
            calibration_snapshot_id=None, usage_seconds=None,
        )

    def cancel(self, vendor_job_id: str) -> None:
        self._call("POST", f"/jobs/{vendor_job_id}/cancel")

    def _call(self, method: str, path: str, **options: Any) -> dict[str, Any]:
        with translated_errors(f"{self.key}: {method} {path} failed"):
            response = httpx.request(method, f"{self.url}{path}", timeout=5, **options)
        if response.status_code == 404:
            raise VendorJobLost(f"{self.key} knows no {path}")
        if response.is_error:
            raise BackendError(f"{self.key}: {method} {path} answered {response.status_code}: {response.text[:200]}")
        return response.json()


@lists_devices(lambda: DEVICES)
def standin_backend(device: str, **options: Any) -> StandInBackend:
    """The plugin's factory, registered under the `govern.backends` entry-point group by the tests."""
    if device not in DEVICES:
        raise unknown_device(VENDOR, device, DEVICES)
    url = os.environ.get(URL_VARIABLE)
    if not url:
        raise BackendError(f"{URL_VARIABLE} is not set: the worker does not know where the stand-in vendor is")
    return StandInBackend(device, url)
