"""`govern demo`'s pilot: the demo sandbox is a pilot with three success criteria and a failure budget of
two failed jobs. Two dynamic circuits the device cannot run fail, the failure budget then denies the next
paid submission (PR-008), a compliance waiver lets one more through with its classical baseline run on Aer,
and the pilot report shows which criteria are met, each figure with the records it came from."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from rich.console import Console

from govern.client import GovernClient

JsonObject = dict[str, Any]

PILOT_TERMS = {
    "objective": "Find out whether ibm_brisbane runs the team's H2 and dynamic circuits reliably and cheaply enough to scale the pilot.",
    "criteria": [
        {"name": "jobs-succeed", "metric": "success_rate", "direction": "at_least", "target": 0.9,
         "description": "Nine in ten jobs run to completion on the device asked for."},
        {"name": "cost-per-job", "metric": "cost_per_job", "direction": "at_most", "target": 25.0,
         "description": "A job costs at most 25 USD."},
        {"name": "close-to-classical", "metric": "baseline_fidelity", "direction": "at_least", "target": 0.9,
         "description": "The device's results keep a Hellinger fidelity of 0.9 to the noiseless classical simulation's."},
    ],
    "failureBudget": {"maxFailedJobs": 2, "counts": ["failed"]},
}
"""The demo sandbox's pilot terms, approved with it."""

FAILING = "allowed/repeat-until-one-ibm.yaml"
VERDICTS = {"jobs-succeed": False, "cost-per-job": True, "close-to-classical": True}
"""Each criterion's verdict the demo expects: half the jobs fail, each costs under 25 USD, and the H2 run on
ibm_brisbane's calibration snapshot comes out at a fidelity of 0.948 to its Aer baseline (fixed seeds and
snapshot, so the same every run; 0.9 leaves a margin)."""

PAID = "allowed/vqe-h2-baseline-ibm.yaml"
"""The pilot's paid H2 run, with a simulator baseline (spec.baseline) for close-to-classical to measure."""


class PilotSteps:
    """The pilot part of the demo, given the demo's clients, its way of loading an example, of waiting and of
    failing (govern.cli.demo), so that it shares them rather than copying them."""

    def __init__(self, clients: dict[str, GovernClient], body: Callable[[str], JsonObject],
                 wait: Callable[[str, Callable[[], Any]], Any], fail: Callable[[str], Exception], console: Console, sandbox: str):
        self.clients, self.body, self.wait, self.fail, self.console, self.sandbox = clients, body, wait, fail, console, sandbox

    def run(self, folder: Path) -> Path:
        rnd, paid_body = self.clients["rnd"], self.body(PAID)
        for attempt in (1, 2):
            status, submitted = rnd.request("POST", "/v1/submissions", json=self.body(FAILING), accept=(201,))
            jobs = self.wait(f"failing pilot job {attempt}", partial(self._ended, submitted["submission"]["id"]))
            self._say(f"pilot {self.sandbox}: {FAILING} allowed, its job {jobs[-1]['status']} on ibm_brisbane "
                      f"({(jobs[-1]['error'] or '')[:80]})")
        _, sandbox = rnd.request("GET", f"/v1/sandboxes/{self.sandbox}")
        self._say(f"pilot {self.sandbox}: failure record {sandbox['failures']}")
        status, denied = rnd.request("POST", "/v1/submissions", json=paid_body, accept=(201, 403))
        rules = [finding["rule"] for finding in denied["decision"]["deny"]]
        if status != 403 or "PR-008" not in rules:
            raise self.fail(f"the spent failure budget should deny the next paid submission (PR-008); got HTTP {status}, rules {rules}")
        self._say(f"pilot {self.sandbox}: the next paid submission is denied by PR-008 (decision {denied['decision']['decision_id']})")
        waiver = self._waive()
        status, waived = rnd.request("POST", "/v1/submissions", json=paid_body, accept=(201, 403))
        applied = [finding["rule"] for finding in waived["decision"].get("waived", [])]
        if status != 201 or "PR-008" not in applied:
            raise self.fail(f"the waiver should let one more submission through; got HTTP {status}, waived {applied}")
        self.wait("the waived pilot run", partial(self._ended, waived["submission"]["id"]))
        self.clients["compliance"].request("POST", f"/v1/waivers/{waiver}/revoke")
        self._say(f"pilot {self.sandbox}: waiver {waiver} (compliance) let submission {waived['submission']['id']} through, "
                  f"recorded as waived in decision {waived['decision']['decision_id']}; the waiver is revoked again")
        self._baseline(waived["submission"]["id"])
        return self._report(folder)

    def _baseline(self, submission_id: str) -> None:
        """The waived run's classical baseline, run free on Aer beside it, and how close the device came to it."""
        _, result = self.clients["rnd"].request("GET", f"/v1/submissions/{submission_id}/result")
        baseline = result["baseline"]
        if baseline is None or baseline["status"] != "succeeded" or baseline["hellinger_fidelity"] is None:
            raise self.fail(f"the waived run's simulator baseline should have run; its result shows {baseline}")
        self._say(f"pilot {self.sandbox}: baseline run on local/{baseline['device']}: fidelity {baseline['hellinger_fidelity']:.3f} "
                  f"of the ibm_brisbane result to the noiseless one (Hellinger)")

    def _ended(self, submission_id: str) -> list[JsonObject] | None:
        _, jobs = self.clients["rnd"].request("GET", f"/v1/submissions/{submission_id}/jobs")
        items: list[JsonObject] = jobs["items"]
        return items if items and all(job["status"] in {"succeeded", "failed", "cancelled", "fallback"} for job in items) else None

    def _waive(self) -> str:
        expires = (datetime.now(UTC) + timedelta(days=1)).isoformat()
        _, waiver = self.clients["rnd"].request("POST", "/v1/waivers", json={
            "rule": "PR-008", "team": "materials-rnd", "sandbox": self.sandbox, "expires": expires,
            "reason": "One more H2 run to finish the pilot's measurement series before the go/no-go review.",
        }, accept=(201,))
        self.clients["compliance"].request("POST", f"/v1/waivers/{waiver['id']}/approve")
        return str(waiver["id"])

    def _report(self, folder: Path) -> Path:
        procurement = self.clients["procurement"]
        _, progress = procurement.request("GET", f"/v1/sandboxes/{self.sandbox}/pilot")
        verdicts = {criterion["name"]: criterion["met"] for criterion in progress["criteria"]}
        if verdicts != VERDICTS:
            raise self.fail(f"the pilot's criteria should turn out {VERDICTS}; they show {verdicts}")
        for criterion in progress["criteria"]:
            self._say(f"pilot {self.sandbox}: {criterion['name']} measured {criterion['value']} against {criterion['direction']} "
                      f"{criterion['target']}: {'met' if criterion['met'] else 'not met'}")
        path = folder / f"pilot-{self.sandbox}.md"
        _, report = procurement.request("GET", f"/v1/sandboxes/{self.sandbox}/pilot/report", params={"format": "markdown"})
        path.write_text(str(report), encoding="utf-8")
        self._say(f"pilot {self.sandbox}: report {path} (also as HTML and PDF: govern pilot report {self.sandbox} --format pdf)")
        return path

    def _say(self, line: str) -> None:
        self.console.print(line, markup=False)
