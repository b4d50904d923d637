"""`govern demo`, the README's main command: the whole path on embedded defaults, from any folder."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from tests.live_service import free_port, wait_for

pytestmark = pytest.mark.slow

STEP_PREFIXES = ("database:", "service:", "sandbox ", "allowed/", "denied/", "ideal run", "noisy run", "lineage:", "reproduce ",
                 "pilot ", "audit:", "evidence:", "demo complete", "keep exploring", "  ")


def test_demo_runs_the_whole_path_from_another_folder(tmp_path):
    database = tmp_path / "data" / "demo.db"
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("GOVERN_", "OPENLINEAGE"))}
    finished = subprocess.run(
        [sys.executable, "-m", "govern", "demo", "--database", str(database)], cwd=tmp_path, env=environment,
        capture_output=True, text=True, timeout=600,
    )
    output = " ".join(finished.stdout.split())
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert f"database: {database}" in output
    for step in ("check allowed, submission", "denied (decision", "ideal run on local/aer_simulator", "noisy run on ibm/ibm_brisbane",
                 "calibration fake_brisbane@", "-> run", "ABORT", "reproduce noisy: same circuit", "hash chain intact",
                 "replayed on its kept revision: identical", "verifies with the public key alone", "demo complete",
                 "its job failed on ibm_brisbane", "denied by PR-008", "recorded as waived", "jobs-succeed measured 0.5 against at_least 0.9: not met",
                 "cost-per-job measured", ": met", "pilot terms (3 criteria", "baseline run on local/aer_simulator: fidelity 0.9", "report "):
        assert step in output, step
    (fidelity,) = re.findall(r"close-to-classical measured ([0-9.]+) against at_least 0.9: met", output)
    assert 0.9 < float(fidelity) < 1
    assert Path(database).is_file()
    lines = finished.stdout.splitlines()
    assert all(line.startswith(STEP_PREFIXES) for line in lines), "a line was wrapped:\n" + finished.stdout
    assert len(re.findall(r"^lineage: .* run [0-9a-f-]{36} of .* decision [0-9a-f-]{36} ", finished.stdout, re.MULTILINE)) >= 2
    keep_exploring(lines, database, tmp_path)


def signs_in_to_the_console(url: str, commands: list[str]) -> None:
    """The printed console address and each printed token sign in, and compliance sees every decision."""
    (address,) = re.findall(r"open (http://\S+/ui/)", " ".join(commands))
    assert address == "http://127.0.0.1:8080/ui/"
    tokens = dict(re.findall(r"^\s+#\s+(\w+)\s+\S+\s+(gov_\S+)$", "\n".join(commands), re.MULTILINE))
    assert set(tokens) == {"submitter", "procurement", "compliance"}
    with httpx.Client(base_url=url, timeout=10) as browser:
        form = browser.get("/ui/login")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
        signed = browser.post("/ui/login", data={"token": tokens["compliance"], "csrf_token": csrf})
        assert signed.status_code == 303 and signed.headers["location"] == "/ui/decisions"
        page = browser.get("/ui/decisions")
        assert page.status_code == 200 and page.text.count("/ui/decisions/") >= 5


def reads_the_pilot(url: str, token: str, commands: list[str], folder: Path) -> None:
    """The printed `govern pilot` commands answer from the served database: cost and closeness to the classical
    baseline met, success rate not."""
    (status, report) = [shlex.split(part.strip()) for line in commands if line.lstrip().startswith("govern pilot status") for part in line.split(";")]
    environment = {**{k: v for k, v in os.environ.items() if not k.startswith("GOVERN_")}, "GOVERN_SERVER": url, "GOVERN_TOKEN": token}
    shown = subprocess.run([sys.executable, "-m", *status, "--output", "json"], cwd=folder, env=environment, capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0, shown.stderr
    verdicts = {c["name"]: c["met"] for c in json.loads(shown.stdout)["criteria"]}
    assert verdicts == {"jobs-succeed": False, "cost-per-job": True, "close-to-classical": True}
    drawn = subprocess.run([sys.executable, "-m", *report], cwd=folder, env=environment, capture_output=True, text=True, timeout=120)
    assert drawn.returncode == 0 and (folder / "pilot.pdf").read_bytes().startswith(b"%PDF"), drawn.stderr


def ran_one_baseline(url: str, token: str, submissions: list[dict]) -> None:
    """The waived pilot run's classical baseline ran, free, on Aer beside its primary on ibm_brisbane."""
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=10) as client:
        jobs = [job for submission in submissions for job in client.get(f"/v1/submissions/{submission['id']}/jobs").json()["items"]]
    (baseline,) = [job for job in jobs if job["kind"] == "baseline"]
    (primary,) = [job for job in jobs if job["baseline_job_id"] == baseline["id"]]
    assert (baseline["status"], baseline["device"], Decimal(baseline["estimated_cost"])) == ("succeeded", "aer_simulator", 0)
    assert (primary["status"], primary["device"], baseline["parent_job_id"]) == ("succeeded", "ibm_brisbane", primary["id"])


def keep_exploring(lines: list[str], database: Path, folder: Path) -> None:
    """The end message's commands serve the demo's database, and its token reads what the demo recorded."""
    commands = lines[next(i for i, line in enumerate(lines) if line.startswith("keep exploring")) + 1:]
    exports = dict(re.findall(r"(GOVERN_[A-Z_]+)=(\S+)", " ".join(line for line in commands if line.lstrip().startswith("export "))))
    assert shlex.split(exports["GOVERN_DATABASE_URL"]) == [f"sqlite:///{database}"]
    (verify_pack,) = [shlex.split(line) for line in commands if line.lstrip().startswith("govern audit verify-pack")]
    offline = {key: value for key, value in os.environ.items() if not key.startswith("GOVERN_")}
    verified = subprocess.run([sys.executable, "-m", *verify_pack], cwd=folder, env=offline, capture_output=True, text=True, timeout=120)
    assert verified.returncode == 0 and "pack verifies" in verified.stdout, verified.stdout + verified.stderr
    (serve,) = [shlex.split(line.split("&")[0]) for line in commands if line.lstrip().startswith("govern serve")]
    port = free_port()
    serve = [sys.executable, "-m", *serve[:serve.index("--port") + 1], str(port), *serve[serve.index("--port") + 2:]]
    environment = {**os.environ, "GOVERN_DATABASE_URL": f"sqlite:///{database}"}
    process = subprocess.Popen(serve, cwd=folder, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"

        def ready() -> bool:
            try:
                return httpx.get(f"{url}/readyz", timeout=5).status_code == 200
            except httpx.TransportError:
                return False

        wait_for(ready, what="the demo's database served")
        listed = httpx.get(f"{url}/v1/submissions", headers={"Authorization": f"Bearer {exports['GOVERN_TOKEN']}"}, timeout=10)
        assert listed.status_code == 200 and len(listed.json()["items"]) == 7, listed.text
        ran_one_baseline(url, exports["GOVERN_TOKEN"], listed.json()["items"])
        signs_in_to_the_console(url, commands)
        reads_the_pilot(url, exports["GOVERN_TOKEN"], commands, folder)
    finally:
        process.terminate()
        process.wait(timeout=30)
