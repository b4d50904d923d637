"""Commands for submitters, against the service over HTTP: `submit` an experiment, then follow it with `jobs`,
`result`, `cancel` and `reproduce`."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from govern.cli.common import (
    ServerOption,
    call_service,
    client_errors,
    client_or_exit,
    fail,
    settings_or_exit,
    stderr_console,
    write_json,
)
from govern.exit_codes import EXIT_BAD_INPUT, EXIT_DENIED, EXIT_OK

if TYPE_CHECKING:
    from govern.client import ClientError
    from govern.manifest.documents import Document

SubmissionArgument = Annotated[str, typer.Argument(help="The submission's id.")]


def submit(
    path: Annotated[Path, typer.Argument(help="The experiment manifest to submit.")],
    server: ServerOption = None,
    output_format: Annotated[
        str, typer.Option("--format", "-f", help="Output format for the decision; json adds the submission, its ids and its jobs.")
    ] = "text",
    idempotency_key: Annotated[
        Optional[str], typer.Option("--idempotency-key", help="Retry-safe key: the same key never submits twice.")
    ] = None,
) -> None:
    """Submit an experiment to the service: exit 0 allowed, 1 denied, 2 bad input or refused."""
    # lazy: start-up time (httpx, the schemas, the output formats)
    from govern.check.report import CheckReport, CheckResult
    from govern.client import request_body
    from govern.errors import InputError
    from govern.manifest.documents import load_documents
    from govern.output import get_formatter
    from govern.policy.decision import Decision

    settings = settings_or_exit()
    formatter = get_formatter(output_format)
    client = client_or_exit(settings, server)
    try:
        documents = [d for d in load_documents(path, settings.max_manifest_bytes) if d.kind == "Experiment"]
        if len(documents) != 1:
            raise InputError(str(path), "expected exactly one document of kind 'Experiment'")
        document = documents[0]
        request = request_body(document, settings.max_circuit_bytes)
    except InputError as exc:
        raise fail(exc.describe()) from None
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
    with client_errors(lambda exc: _submission_refused(document, exc)):
        status_code, body = client.request("POST", "/v1/submissions", json=request, headers=headers, accept=(201, 403))
    if status_code == 403 and "submission" not in body:
        raise fail(f"submission refused: {body.get('detail')}")
    result = CheckResult(str(path), document.data["metadata"]["name"], decision=Decision.model_validate(body["decision"]), locations=document.locations)
    rendered = formatter.render(CheckReport((result,)))
    if formatter.name == "json":
        with client_errors():
            _, jobs = client.request("GET", f"/v1/submissions/{body['submission']['id']}/jobs")
        write_json({"submission": {**body["submission"], "jobs": jobs["items"]}, **json.loads(rendered)})
    else:
        sys.stdout.write(rendered)
    stderr_console().print(f"submission {body['submission']['id']} ({body['submission']['outcome']})", markup=False)
    raise typer.Exit(EXIT_OK if status_code == 201 else EXIT_DENIED)


def _submission_refused(document: Document, error: ClientError) -> tuple[str, int]:
    """The service's schema problems are reported like local ones (file, field, line); other refusals as they are."""
    from govern.client import service_input_error  # lazy: start-up time (httpx)

    if error.status == 422 and isinstance(error.body, dict) and error.body.get("problems"):
        return service_input_error(document, error).describe(), EXIT_BAD_INPUT
    return f"submission refused: {error}", EXIT_BAD_INPUT


def jobs(submission_id: SubmissionArgument, server: ServerOption = None) -> None:
    """A submission's dispatch jobs: the primary, a fallback, reproductions, with status and errors."""
    call_service(server, "GET", f"/v1/submissions/{submission_id}/jobs")


def result(submission_id: SubmissionArgument, server: ServerOption = None) -> None:
    """A submission's result: counts, result hash, transpiled metrics, calibration snapshot, actual cost."""
    call_service(server, "GET", f"/v1/submissions/{submission_id}/result")


def cancel(submission_id: SubmissionArgument, server: ServerOption = None) -> None:
    """Cancel a submission's unfinished dispatch (queued at once, running at the vendor by its worker)."""
    call_service(server, "POST", f"/v1/submissions/{submission_id}/cancel", accept=(202,))


def reproduce(
    submission_id: Annotated[str, typer.Argument(help="The submission whose finished simulator run to repeat.")],
    timeout: Annotated[float, typer.Option("--timeout", min=1, help="Seconds to wait for the reproduction.")] = 300,
    server: ServerOption = None,
) -> None:
    """Re-run a finished simulator job (same circuit, seeds, noise snapshot): exit 0 when the result hash
    matches, 1 when it does not (or the run failed, or policy denies the reproduction), 2 when it cannot be
    asked for (not permitted, rate limited, nothing to reproduce)."""
    from govern.client import refusal  # lazy: start-up time (httpx)

    client = client_or_exit(settings_or_exit(), server)
    with client_errors(lambda exc: refusal("reproduction", exc)):
        _, job = client.request("POST", f"/v1/submissions/{submission_id}/reproduce", accept=(202,))
        deadline = time.monotonic() + timeout
        while job["status"] not in {"succeeded", "failed", "cancelled"}:
            if time.monotonic() > deadline:
                raise fail(f"reproduction job {job['id']} still {job['status']} after {timeout:g} s (is a worker running?)")
            time.sleep(0.5)
            _, job = client.request("GET", f"/v1/jobs/{job['id']}")
    write_json(job)
    verdict = "reproduced: the result hash matches" if job["reproduced"] else f"not reproduced ({job['error'] or 'the result hash differs'})"
    stderr_console().print(verdict, markup=False)
    raise typer.Exit(EXIT_OK if job["reproduced"] else EXIT_DENIED)
