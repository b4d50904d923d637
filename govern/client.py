"""A small client for the govern service, used by the CLI (`govern submit`, `check --server`, `sandbox`,
`waiver`). Errors come back as ClientError with the HTTP status and the service's reason."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from govern.check.checker import Checker
from govern.check.discovery import experiment_name
from govern.check.report import CheckResult
from govern.errors import InputError, Problem
from govern.exit_codes import EXIT_BAD_INPUT, EXIT_DENIED
from govern.manifest.documents import Document, read_text
from govern.policy.decision import Decision
from govern.policy.engines import UnavailableEngine
from govern.submission import circuit_path


class ClientError(Exception):
    def __init__(self, message: str, status: int | None = None, body: Any = None):
        super().__init__(message)
        self.status = status
        self.body = body


class GovernClient:
    def __init__(self, server: str, token: str, timeout_s: float = 60.0):
        self._http = httpx.Client(base_url=server.rstrip("/"), headers={"Authorization": f"Bearer {token}"}, timeout=timeout_s)

    def __enter__(self) -> GovernClient:
        return self

    def __exit__(self, *exc: Any) -> None:
        self._http.close()

    def request(self, method: str, path: str, *, accept: tuple[int, ...] = (200, 201), **options: Any) -> tuple[int, Any]:
        """Send a request; statuses outside `accept` raise ClientError with the service's reason."""
        try:
            response = self._http.request(method, path, **options)
        except httpx.HTTPError as exc:
            raise ClientError(f"cannot reach the govern service: {exc.__class__.__name__}: {exc}") from None
        body = _json_or_text(response)
        if response.status_code not in accept:
            raise ClientError(f"HTTP {response.status_code}: {_reason(body)}", response.status_code, body)
        return response.status_code, body

    def download(self, path: str, **options: Any) -> bytes:
        """A GET answered with a file (a PDF, a page) as its bytes; any status but 200 raises ClientError."""
        try:
            response = self._http.get(path, **options)
        except httpx.HTTPError as exc:
            raise ClientError(f"cannot reach the govern service: {exc.__class__.__name__}: {exc}") from None
        if response.status_code != 200:
            raise ClientError(f"HTTP {response.status_code}: {_reason(_json_or_text(response))}", response.status_code)
        return response.content

    def stream_lines(self, path: str, **options: Any) -> Iterator[str]:
        """The lines of a streamed answer (JSON Lines exports), read as they arrive."""
        try:
            with self._http.stream("GET", path, **options) as response:
                if response.status_code != 200:
                    response.read()
                    raise ClientError(f"HTTP {response.status_code}: {_reason(_json_or_text(response))}", response.status_code)
                yield from response.iter_lines()
        except httpx.HTTPError as exc:
            raise ClientError(f"cannot reach the govern service: {exc.__class__.__name__}: {exc}") from None


def refusal(action: str, error: ClientError) -> tuple[str, int]:
    """What the CLI says when the service refuses an action, and its exit code: a policy denial (a 403 that
    carries the recorded decision) is 1 with the rules that denied it; anything else (not permitted, rate
    limited, nothing to act on) is 2."""
    decision = error.body.get("decision") if isinstance(error.body, dict) else None
    if error.status == 403 and isinstance(decision, dict):
        reasons = "; ".join(f"{f.get('rule')}: {f.get('message')}" for f in decision.get("deny", []))
        return f"{action} denied by policy (decision {decision.get('decision_id')}): {reasons}", EXIT_DENIED
    if error.status == 429:
        return f"{action} refused, rate limited: {_reason(error.body)}", EXIT_BAD_INPUT
    return f"{action} refused: {error}", EXIT_BAD_INPUT


def _json_or_text(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text


def _reason(body: Any) -> str:
    if isinstance(body, dict):
        problems = body.get("problems")
        if problems:
            return "; ".join(f"{p.get('field') or '(manifest)'}: {p.get('message')}" for p in problems)
        detail = body.get("detail")
        if isinstance(detail, list):
            return "; ".join(f"{'.'.join(str(x) for x in d.get('loc', []))}: {d.get('msg')}" for d in detail)
        if detail:
            return str(detail)
    return str(body)[:500]


class ServerChecker(Checker):
    """`govern check --server`: the same discovery and reports, with decisions made by the service on its
    live context (sandboxes, spend, waivers) instead of a local engine."""

    def __init__(self, client: GovernClient, *, max_manifest_bytes: int, max_circuit_bytes: int, root: Path | None = None):
        super().__init__(UnavailableEngine("decisions come from the govern service"), max_manifest_bytes=max_manifest_bytes, root=root)
        self._client = client
        self._max_circuit_bytes = max_circuit_bytes

    def check_document(self, document: Document) -> CheckResult:
        name = experiment_name(document)
        try:
            payload = request_body(document, self._max_circuit_bytes, self._root)
            _, body = self._client.request("POST", "/v1/check", json=payload, accept=(200,))
            decision = Decision.model_validate(body["decision"])
        except InputError as exc:
            return CheckResult(document.source, name, error=exc, locations=document.locations)
        except ClientError as exc:
            return CheckResult(document.source, name, error=service_input_error(document, exc), locations=document.locations)
        return CheckResult(document.source, name, decision=decision, locations=document.locations)


def circuit_name(document: Document) -> str | None:
    """spec.circuit.path as written (None for inline QASM or a malformed spec)."""
    spec = document.data.get("spec") if isinstance(document.data, dict) else None
    circuit = spec.get("circuit") if isinstance(spec, dict) else None
    path = circuit.get("path") if isinstance(circuit, dict) else None
    return path if isinstance(path, str) else None


def circuit_file(document: Document) -> Path | None:
    """The circuit file a manifest names, relative to the manifest."""
    name = circuit_name(document)
    return Path(document.source).parent / name if name is not None else None


def request_body(document: Document, max_circuit_bytes: int, root: Path | None = None) -> dict[str, Any]:
    """The manifest as JSON, and the text of the circuit file it names (only inside its folder tree, or `root`)."""
    name = circuit_name(document)
    return {"manifest": document.data, "circuit": read_text(circuit_path(document, name, root), max_circuit_bytes) if name is not None else None}


def service_input_error(document: Document, error: ClientError) -> InputError:
    """The service's 4xx as an input error that points into the manifest where it can."""
    problems = error.body.get("problems") if isinstance(error.body, dict) else None
    if error.status == 422 and problems:
        about_circuit = str(error.body.get("source", "")).endswith("#circuit")
        located = []
        for problem in problems:  # the service places manifest errors in the JSON it was sent; the user wrote this file
            field = problem.get("field") or ""
            line, column = (problem.get("line"), problem.get("column")) if about_circuit and problem.get("line") else document.locate(field)
            located.append(Problem(problem.get("message", ""), field, line, column))
        source = str(circuit_file(document) or document.source) if about_circuit else document.source
        return InputError(source, located)
    return InputError(document.source, f"the govern service refused the check: {error}")
