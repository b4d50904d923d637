"""Dispatch as deployed: a `govern serve` process, a separate `govern worker` process on the same database,
and the CLI as their client over loopback: submit, jobs, result, reproduce, cancel."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.cli.test_client_cli import token
from tests.conftest import EXAMPLES
from tests.live_service import running_service, wait_for

pytestmark = pytest.mark.slow


@pytest.fixture
def deployment(database_url, monkeypatch) -> Iterator[str]:
    with running_service(database_url) as url:
        environment = {**os.environ, "GOVERN_DATABASE_URL": database_url, "GOVERN_WORKER_POLL_S": "0.1"}
        worker = subprocess.Popen([sys.executable, "-m", "govern", "worker"], env=environment,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            monkeypatch.setenv("GOVERN_DATABASE_URL", database_url)
            monkeypatch.setenv("GOVERN_SERVER", url)
            yield url
        finally:
            worker.terminate()
            worker.wait(timeout=30)


def submitted_id(output: str) -> str:
    return re.search(r"submission ([0-9a-f-]{36})", output).group(1)


def test_an_allowed_submission_is_dispatched_by_a_worker_process(cli, deployment, monkeypatch):
    monkeypatch.setenv("GOVERN_TOKEN", token(cli, "submitter", "platform-qa"))
    submitted = cli("submit", str(EXAMPLES / "allowed" / "bell-local.yaml"))
    assert submitted.exit_code == 0, submitted.output
    submission_id = submitted_id(submitted.output)

    def finished():
        listed = json.loads(cli("jobs", submission_id).stdout)["items"]
        return listed if listed[0]["status"] == "succeeded" else None

    (job,) = wait_for(finished, what="the job to succeed")
    result = cli("result", submission_id)
    assert result.exit_code == 0
    counts = json.loads(result.stdout)["counts"]
    assert set(counts) <= {"00", "11"} and sum(counts.values()) == 2048
    reproduced = cli("reproduce", submission_id, "--timeout", "120")
    assert reproduced.exit_code == 0, reproduced.output
    assert json.loads(reproduced.stdout)["reproduced"] is True and "the result hash matches" in reproduced.output
    assert cli("cancel", submission_id).exit_code == 2  # nothing left to cancel
    assert cli("result", "no-such-submission").exit_code == 2
    monkeypatch.setenv("GOVERN_TOKEN", token(cli, "submitter", "quantum-finance"))
    assert cli("result", submission_id).exit_code == 2  # another team's
