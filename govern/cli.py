"""The `govern` command line: `check` for CI, `policy` for bundle authors, `schema` and `init` for editors.

Exit codes: 0 all allowed, 1 something denied (or a policy test failed), 2 bad input or usage.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from govern.audit_cli import audit_app
from govern.exit_codes import EXIT_BAD_INPUT, EXIT_DENIED, EXIT_OK
from govern.policy.jws_algorithms import SignatureAlgorithm

if TYPE_CHECKING:
    from rich.console import Console

    from govern.check.checker import Checker
    from govern.policy.bundle import PolicyBundle
    from govern.policy.engines import PolicyEngine
    from govern.settings import Settings

PROGRESS_THRESHOLD = 20

PLAIN_HELP = {"rich_markup_mode": None}
"""Help in click's plain format: rich's renders the same text but costs a fifth of a second to import."""

app = typer.Typer(
    name="govern",
    help="Governance and compliance checks for quantum experiments: Rego policies, decisions as evidence.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    **PLAIN_HELP,
)
policy_app = typer.Typer(help="Test, check and list the Rego policy bundle.", no_args_is_help=True, **PLAIN_HELP)
app.add_typer(policy_app, name="policy")
db_app = typer.Typer(help="The service database: migrations.", no_args_is_help=True, **PLAIN_HELP)
app.add_typer(db_app, name="db")
token_app = typer.Typer(help="API tokens for the service: create, list, revoke.", no_args_is_help=True, **PLAIN_HELP)
app.add_typer(token_app, name="token")
app.add_typer(audit_app, name="audit")

BundleOption = Annotated[
    Optional[Path],
    typer.Option("--bundle", help="Policy bundle folder or bundle.tar.gz (default: GOVERN_BUNDLE, else the shipped bundle)."),
]
PolicyOption = Annotated[
    Optional[list[Path]],
    typer.Option("--policy", help="A team policy folder (packages under govern.custom) to add; repeatable; replaces GOVERN_POLICY_DIRS."),
]


class SchemaKind(str, Enum):
    experiment = "experiment"
    context = "context"


def _stderr() -> Console:
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def _fail(message: str, code: int = EXIT_BAD_INPUT) -> typer.Exit:
    from rich.markup import escape

    _stderr().print(f"[bold red]error:[/] {escape(message)}", markup=True, soft_wrap=True)
    return typer.Exit(code)


def _engine(settings: Settings) -> PolicyEngine:
    """The configured engine, or one that denies everything with the reason it could not be built."""
    from govern.policy.bundle import BundleError, load_configured_bundle
    from govern.policy.engines import EngineError, UnavailableEngine
    from govern.policy.engines.factory import build_engine

    try:
        return build_engine(settings, load_configured_bundle(settings))
    except (BundleError, EngineError) as exc:
        return UnavailableEngine(str(exc))


def _settings(**overrides: object) -> Settings:
    """Settings, or a clear exit 2 when the environment or GOVERN_CONFIG holds something invalid."""
    from govern.settings import load_settings

    try:
        return load_settings(**overrides)
    except ValueError as exc:
        raise _fail(f"invalid settings: {exc}") from None


def _bundle(path: Path | None, policy_dirs: list[Path] | None) -> PolicyBundle:
    """The bundle with the configured keys and team folders, or a clear exit 2 naming what refused it."""
    from govern.policy.bundle import BundleError, load_configured_bundle

    try:
        return load_configured_bundle(_settings(policy_dirs=policy_dirs), path)
    except BundleError as exc:
        raise _fail(str(exc)) from None


@app.command()
def check(
    paths: Annotated[list[str], typer.Argument(help="Manifest files, folders or globs.", show_default=False)],
    context: Annotated[Optional[Path], typer.Option("--context", "-c", help="Context document (sandboxes, vendors, waivers).")] = None,
    output_format: Annotated[str, typer.Option("--format", "-f", help="Output format: text|json|junit|sarif|github.")] = "text",
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write the report to this file instead of stdout.")] = None,
    fail_on_warn: Annotated[bool, typer.Option("--fail-on-warn", help="Exit 1 when any rule warns.")] = False,
    bundle: BundleOption = None,
    policy: PolicyOption = None,
    engine: Annotated[Optional[str], typer.Option("--engine", help="embedded (default) or opa.")] = None,
    now: Annotated[
        Optional[datetime], typer.Option("--now", help="Evaluate as of this time (RFC 3339), e.g. to reproduce a decision.")
    ] = None,
    workers: Annotated[Optional[int], typer.Option("--workers", min=1, help="Parallel checks (default: CPU count).")] = None,
    skip_other_kinds: Annotated[
        bool, typer.Option("--skip-other-kinds", help="Leave named files without an Experiment alone (for pre-commit).")
    ] = False,
    server: Annotated[
        Optional[str], typer.Option("--server", help="Let the govern service decide, on its live context (token: GOVERN_TOKEN).")
    ] = None,
    root: Annotated[
        Optional[Path], typer.Option("--root", help="Folder tree circuits and includes may be read from (default: each manifest's folder).")
    ] = None,
) -> None:
    """Check experiment manifests against the policies: exit 0 allowed, 1 denied, 2 bad input."""
    from govern.check.checker import Checker
    from govern.manifest.documents import load_one
    from govern.errors import InputError
    from govern.manifest.schema import Context
    from govern.output import get_formatter
    from govern.output.text import TextFormatter

    try:
        formatter = get_formatter(output_format)
    except KeyError as exc:
        raise _fail(str(exc.args[0])) from None
    if isinstance(formatter, TextFormatter) and output is None and sys.stdout.isatty():
        formatter = TextFormatter(color=True, width=shutil.get_terminal_size().columns)
    settings = _settings(bundle=bundle, policy_dirs=policy, engine=engine, workers=workers)
    if now is not None and now.tzinfo is None:
        raise _fail("--now needs a UTC offset, e.g. 2026-11-24T12:00:00+00:00")
    try:
        live_context = load_one(context, Context, "Context", settings.max_manifest_bytes) if context else None
    except InputError as exc:
        raise _fail(exc.describe()) from None
    server = server or settings.server
    if server:
        if live_context is not None or now is not None:
            raise _fail("--context and --now are for local checks; the service uses its live context and clock")
        from govern.client import ServerChecker

        client = _client(settings, server)
        checker: Checker = ServerChecker(client, max_manifest_bytes=settings.max_manifest_bytes, max_circuit_bytes=settings.max_circuit_bytes, root=root)
    else:
        from govern.circuit.profiling import profiling_options

        checker = Checker(
            _engine(settings),
            live_context,
            circuit_limits=settings.circuit_limits,
            max_manifest_bytes=settings.max_manifest_bytes,
            now=now,
            root=root,
            **profiling_options(settings),
        )
    try:
        report = _run_with_progress(checker, paths, fail_on_warn, settings.workers, skip_other_kinds)
    finally:
        checker.engine.close()
    if not report.results:
        if skip_other_kinds:
            raise typer.Exit(EXIT_OK)
        raise _fail("no Experiment manifests found under the given paths")
    rendered = formatter.render(report)
    if output:
        output.write_text(rendered, encoding="utf-8")
    else:
        sys.stdout.write(rendered if rendered.endswith("\n") else rendered + "\n")
    raise typer.Exit(report.exit_code())


def _run_with_progress(checker: Checker, paths: list[str], fail_on_warn: bool, workers: int | None, skip_other_kinds: bool):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from govern.check.checker import check_paths

    options = {"workers": workers or os.cpu_count() or 2, "skip_other_kinds": skip_other_kinds}
    console = _stderr()
    if not console.is_terminal:
        return check_paths(checker, paths, fail_on_warn, **options)
    columns = (TextColumn("checking"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("check", total=None, visible=False)

        def on_total(total: int) -> None:
            progress.update(task, total=total, visible=total >= PROGRESS_THRESHOLD)

        return check_paths(
            checker,
            paths,
            fail_on_warn,
            **options,
            on_total=on_total,
            on_result=lambda _: progress.advance(task),
        )


@policy_app.command("test")
def policy_test(
    bundle: BundleOption = None,
    policy: PolicyOption = None,
    run: Annotated[Optional[str], typer.Option("--run", "-r", help="Only tests whose package.name matches this regex.")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="List every test, not only failures.")] = False,
    coverage: Annotated[bool, typer.Option("--coverage", help="Report which lines of the policies the tests evaluated.")] = False,
) -> None:
    """Run the bundle's Rego unit tests (*_test.rego) on the embedded engine: exit 1 on any failure."""
    from rich.console import Console
    from rich.markup import escape

    from govern.policy.engines import EngineError

    from govern.policy.testing import run_tests

    loaded = _bundle(bundle, policy)
    try:
        outcome = run_tests(loaded, run, coverage=coverage)
    except EngineError as exc:
        raise _fail(str(exc)) from None
    console = Console(highlight=False)
    for result in outcome.results:
        if verbose or not result.passed:
            mark = {"passed": "[green]PASS[/]", "failed": "[red]FAIL[/]", "error": "[red]ERROR[/]"}[result.status]
            detail = f": {escape(result.detail)}" if result.detail else ""
            console.print(f"{mark} {result.path}: data.{result.package}.{result.name}{detail}", markup=True)
            for line in result.prints if not result.passed else ():
                console.print(f"    {line}", markup=False)
    if coverage:
        _print_coverage(console, outcome.coverage)
    failed = sum(not r.passed for r in outcome.results)
    console.print(f"{len(outcome.results) - failed} passed, {failed} failed")
    if not outcome.results:
        raise _fail("no Rego tests found (rules named test_* in *_test.rego files)")
    raise typer.Exit(EXIT_DENIED if failed else EXIT_OK)


def _print_coverage(console: Console, files) -> None:
    from rich.table import Table

    table = Table(title="coverage of the policies by their tests")
    for column in ("file", "covered", "lines not covered"):
        table.add_column(column, overflow="fold")
    for item in files:
        table.add_row(item.path, f"{item.percent:.1f}%", _line_ranges(item.not_covered))
    console.print(table)


def _line_ranges(lines: tuple[int, ...]) -> str:
    """1,2,3,7 -> '1-3, 7'."""
    ranges: list[list[int]] = []
    for line in sorted(lines):
        if ranges and line == ranges[-1][1] + 1:
            ranges[-1][1] = line
        else:
            ranges.append([line, line])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in ranges)


@policy_app.command("check")
def policy_check(bundle: BundleOption = None, policy: PolicyOption = None) -> None:
    """Refuse a bundle the embedded engine cannot evaluate faithfully: syntax, missing or refused built-ins,
    unannotated rules. Exit 1 when refused."""
    from rich.console import Console

    from govern.policy.bundle import BundleError
    from govern.policy.engines import EngineError

    from govern.policy.check import check_bundle
    from govern.policy.engines.embedded import RegorusEngine

    loaded = _bundle(bundle, policy)
    problems = check_bundle(loaded)
    console = Console(highlight=False)
    for problem in problems:
        console.print(str(problem), markup=False)
    if any(p.fatal for p in problems):
        raise _fail(f"bundle {loaded.root} refused", EXIT_DENIED)
    try:
        RegorusEngine(loaded, workers=1).close()
    except (BundleError, EngineError) as exc:
        raise _fail(str(exc), EXIT_DENIED) from None
    console.print(
        f"bundle ok: revision {loaded.manifest_revision} ({loaded.revision}), "
        f"{len(loaded.policy_modules)} policy modules, {len(loaded.test_modules)} test modules, "
        f"{len(loaded.catalogue)} rules"
    )


class ListFormat(str, Enum):
    text = "text"
    json = "json"


@policy_app.command("list")
def policy_list(
    bundle: BundleOption = None,
    policy: PolicyOption = None,
    output_format: Annotated[ListFormat, typer.Option("--format", "-f", help="text (a table) or json.")] = ListFormat.text,
) -> None:
    """The rule catalogue, from the rules' METADATA: id, area, kind, severity, waivable, title."""
    from rich.console import Console
    from rich.table import Table

    loaded = _bundle(bundle, policy)
    if output_format is ListFormat.json:
        sys.stdout.write(json.dumps(loaded.catalogue, indent=2, sort_keys=True) + "\n")
        return
    table = Table(title=f"govern rules (bundle {loaded.manifest_revision})")
    for column in ("id", "area", "kind", "severity", "waivable", "title"):
        table.add_column(column, overflow="fold")
    for rule_id, rule in sorted(loaded.catalogue.items()):
        table.add_row(
            rule_id, rule["area"], rule["kind"], rule["severity"], "yes" if rule["waivable"] else "no", rule["title"]
        )
    Console(width=160).print(table)


@policy_app.command("sign")
def policy_sign(
    bundle: Annotated[Path, typer.Argument(help="The bundle folder or bundle.tar.gz to sign.", show_default=False)],
    signing_key: Annotated[
        str, typer.Option("--signing-key", help="PEM private key file (RS*, PS*, ES*), or the HMAC secret or a file holding it (HS*).")
    ],
    signing_alg: Annotated[SignatureAlgorithm, typer.Option("--signing-alg", help="JWS algorithm.")] = "RS256",
    key_id: Annotated[Optional[str], typer.Option("--key-id", help="Key id for the token's kid header (and keyid claim).")] = None,
    scope: Annotated[Optional[str], typer.Option("--scope", help="Scope claim the verifier must expect.")] = None,
    output: Annotated[
        Optional[Path],
        typer.Option("--output", "-o", help="Where to write: default BUNDLE/.signatures.json, or BUNDLE.signed.tar.gz for an archive."),
    ] = None,
) -> None:
    """Sign a bundle as `opa sign` does: a .signatures.json with one JWS over every file's SHA-256."""
    from rich.console import Console

    from govern.policy.bundle import BundleError

    from govern.policy.archive import read_bundle_files, write_archive
    from govern.policy.bundle import assemble
    from govern.policy.signing import SIGNATURES_FILE, sign_files, signing_key as read_signing_key

    try:
        contents = read_bundle_files(bundle)
        contents.pop(SIGNATURES_FILE, None)
        assemble(bundle, contents)
        signatures = sign_files(contents, read_signing_key(signing_key, signing_alg), signing_alg, key_id or "", scope or "")
    except BundleError as exc:
        raise _fail(str(exc)) from None
    try:
        if bundle.is_dir():
            target = output or bundle
            target = target / SIGNATURES_FILE if target.is_dir() else target
            target.write_bytes(signatures)
        else:
            target = output or bundle.with_name(bundle.name.removesuffix(".tar.gz").removesuffix(".tgz") + ".signed.tar.gz")
            write_archive(target, {**contents, SIGNATURES_FILE: signatures})
    except OSError as exc:
        raise _fail(f"cannot write {output or bundle}: {exc.strerror or exc}") from None
    Console(highlight=False).print(f"signed {len(contents)} files of {bundle} ({signing_alg}): {target}", markup=False)


@app.command()
def schema(kind: Annotated[SchemaKind, typer.Argument(help="Which document.")] = SchemaKind.experiment) -> None:
    """Print the JSON Schema of a manifest (for editors and CI validation)."""
    from govern.manifest.schema import Context, Experiment

    model = Experiment if kind is SchemaKind.experiment else Context
    document = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://govern.dev/schemas/v1/{kind.value}.json",
        **model.model_json_schema(by_alias=True),
    }
    sys.stdout.write(json.dumps(document, indent=2) + "\n")


@app.command()
def init(
    directory: Annotated[Path, typer.Argument(help="Where to write experiment.yaml and its circuit.")] = Path("."),
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing files.")] = False,
) -> None:
    """Scaffold an example manifest and circuit that pass the default policies."""
    from rich.console import Console

    from govern.manifest.scaffold import write_scaffold

    try:
        written = write_scaffold(directory, force=force)
    except FileExistsError as exc:
        raise _fail(f"{exc.args[0]} exists; use --force to overwrite") from None
    for path in written:
        Console(highlight=False).print(f"wrote {path}")


@app.command()
def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8080,
    migrate: Annotated[bool, typer.Option("--migrate", help="Apply database migrations before serving.")] = False,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Server processes (each evaluates policies on its own).")] = 1,
    with_worker: Annotated[
        bool, typer.Option("--with-worker", help="Also run a dispatch worker in the service process (the embedded SQLite setup).")
    ] = False,
) -> None:
    """Run the governance service (HTTP API under /v1, OpenAPI docs at /docs)."""
    from govern.api import create_app
    from govern.api.server import serve as bounded_server
    from govern.db.database import create_db_engine, upgrade

    settings = _settings()
    if migrate or settings.migrate_on_start:
        upgrade(create_db_engine(settings.resolved_database_url()))
    _stderr().print(f"govern service on http://{host}:{port} (database {settings.resolved_database_url()})", markup=False)
    if with_worker and workers > 1:
        raise _fail("--with-worker runs one worker inside a single server process; with --workers, run `govern worker` beside it")
    app = create_app(settings, with_worker=with_worker) if workers == 1 else "govern.api:create_app"
    bounded_server(app, host=host, port=port, workers=workers, max_header_bytes=settings.max_header_bytes)


def _client(settings: Settings, server: str | None = None):
    """A client for the service; the token comes from GOVERN_TOKEN and never from the command line."""
    from govern.client import GovernClient

    server = server or settings.server
    if not server:
        raise _fail("no service given: use --server URL or GOVERN_SERVER")
    if settings.token is None:
        raise _fail("GOVERN_TOKEN is not set (create one with `govern token create`)")
    return GovernClient(server, settings.token.get_secret_value())


ServerOption = Annotated[Optional[str], typer.Option("--server", help="The govern service (default: GOVERN_SERVER).")]


@app.command()
def submit(
    path: Annotated[Path, typer.Argument(help="The experiment manifest to submit.")],
    server: ServerOption = None,
    output_format: Annotated[str, typer.Option("--format", "-f", help="Output format for the decision.")] = "text",
    idempotency_key: Annotated[
        Optional[str], typer.Option("--idempotency-key", help="Retry-safe key: the same key never submits twice.")
    ] = None,
) -> None:
    """Submit an experiment to the service: exit 0 allowed, 1 denied, 2 bad input or refused."""
    from govern.manifest.documents import load_documents
    from govern.errors import InputError
    from govern.output import get_formatter

    from govern.client import ClientError, request_body, service_input_error
    from govern.check.report import CheckReport, CheckResult

    settings = _settings()
    formatter = get_formatter(output_format)
    client = _client(settings, server)
    try:
        documents = [d for d in load_documents(path, settings.max_manifest_bytes) if d.kind == "Experiment"]
        if len(documents) != 1:
            raise InputError(str(path), "expected exactly one document of kind 'Experiment'")
        document = documents[0]
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        status_code, body = client.request(
            "POST", "/v1/submissions", json=request_body(document, settings.max_circuit_bytes), headers=headers, accept=(201, 403)
        )
    except InputError as exc:
        raise _fail(exc.describe()) from None
    except ClientError as exc:
        if exc.status == 422 and isinstance(exc.body, dict) and exc.body.get("problems"):
            raise _fail(service_input_error(document, exc).describe()) from None
        raise _fail(f"submission refused: {exc}") from None
    if status_code == 403 and "submission" not in body:
        raise _fail(f"submission refused: {body.get('detail')}")
    from govern.policy.decision import Decision

    result = CheckResult(str(path), document.data["metadata"]["name"], decision=Decision.model_validate(body["decision"]), locations=document.locations)
    sys.stdout.write(formatter.render(CheckReport((result,))))
    _stderr().print(f"submission {body['submission']['id']} ({body['submission']['outcome']})", markup=False)
    raise typer.Exit(EXIT_OK if status_code == 201 else EXIT_DENIED)


@app.command()
def worker(
    once: Annotated[bool, typer.Option("--once", help="Process the queue until it is empty, then exit.")] = False,
) -> None:
    """Dispatch allowed work: take jobs from the service database's queue and run them on their backends.

    Any number of workers may share a PostgreSQL queue; SQLite takes one. SIGTERM or Ctrl-C stops the
    worker after its current job; a job left unfinished is taken over once its lease expires."""
    import logging
    import signal
    import threading

    from govern.dispatch.worker import Worker, worker_options

    settings = _settings()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    dispatcher = Worker(_database(), worker_options(settings))
    _stderr().print(f"govern worker {dispatcher.worker_id} on {settings.resolved_database_url()}", markup=False)
    try:
        if once:
            dispatcher.run_until_idle()
            return
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            dispatcher.run(stop)
        except KeyboardInterrupt:
            stop.set()
    except _database_errors() as exc:
        raise _fail(f"database error: {exc.__class__.__name__}") from None


@app.command()
def demo(
    database: Annotated[
        Optional[Path], typer.Option("--database", help="SQLite file for the demo (default: demo.db in the user data folder).")
    ] = None,
) -> None:
    """Run the whole path on embedded defaults with the packaged examples: check, submit, decide, lineage,
    dispatch to Aer (ideal and an IBM device's noise), result, reproduce, audit."""
    from rich.console import Console

    from govern.demo import DemoFailed, default_database, run_demo

    console = Console(highlight=False)
    try:
        run_demo(database or default_database(), console)
    except DemoFailed as exc:
        _stderr().print(f"demo failed: {exc}", markup=False)
        raise typer.Exit(EXIT_DENIED) from None


@app.command()
def jobs(submission_id: Annotated[str, typer.Argument(help="The submission's id.")], server: ServerOption = None) -> None:
    """A submission's dispatch jobs: the primary, a fallback, reproductions, with status and errors."""
    _call(server, "GET", f"/v1/submissions/{submission_id}/jobs")


@app.command()
def result(submission_id: Annotated[str, typer.Argument(help="The submission's id.")], server: ServerOption = None) -> None:
    """A submission's result: counts, result hash, transpiled metrics, calibration snapshot, actual cost."""
    _call(server, "GET", f"/v1/submissions/{submission_id}/result")


@app.command()
def cancel(submission_id: Annotated[str, typer.Argument(help="The submission's id.")], server: ServerOption = None) -> None:
    """Cancel a submission's unfinished dispatch (queued at once, running at the vendor by its worker)."""
    _call(server, "POST", f"/v1/submissions/{submission_id}/cancel", accept=(202,))


@app.command()
def reproduce(
    submission_id: Annotated[str, typer.Argument(help="The submission whose finished simulator run to repeat.")],
    timeout: Annotated[float, typer.Option("--timeout", min=1, help="Seconds to wait for the reproduction.")] = 300,
    server: ServerOption = None,
) -> None:
    """Re-run a finished simulator job (same circuit, seeds, noise snapshot): exit 0 when the result hash
    matches, 1 when it does not (or the run failed, or policy denies the reproduction), 2 when it cannot be
    asked for (not permitted, rate limited, nothing to reproduce)."""
    import time

    from govern.client import ClientError, refusal

    client = _client(_settings(), server)
    try:
        _, job = client.request("POST", f"/v1/submissions/{submission_id}/reproduce", accept=(202,))
        deadline = time.monotonic() + timeout
        while job["status"] not in {"succeeded", "failed", "cancelled"}:
            if time.monotonic() > deadline:
                raise _fail(f"reproduction job {job['id']} still {job['status']} after {timeout:g} s (is a worker running?)")
            time.sleep(0.5)
            _, job = client.request("GET", f"/v1/jobs/{job['id']}")
    except ClientError as exc:
        raise _fail(*refusal("reproduction", exc)) from None
    sys.stdout.write(json.dumps(job, indent=2) + "\n")
    verdict = "reproduced: the result hash matches" if job["reproduced"] else f"not reproduced ({job['error'] or 'the result hash differs'})"
    _stderr().print(verdict, markup=False)
    raise typer.Exit(EXIT_OK if job["reproduced"] else EXIT_DENIED)


sandbox_app = typer.Typer(help="Procurement sandboxes on the service: request, approve, reject, list.", no_args_is_help=True, **PLAIN_HELP)
app.add_typer(sandbox_app, name="sandbox")
waiver_app = typer.Typer(help="Waivers on the service: request, approve, revoke, list.", no_args_is_help=True, **PLAIN_HELP)
app.add_typer(waiver_app, name="waiver")


def _call(server: str | None, method: str, path: str, **options):
    """One service call from the CLI; its JSON answer is printed, a refusal exits 2 with the reason."""
    from govern.client import ClientError

    try:
        _, body = _client(_settings(), server).request(method, path, **options)
    except ClientError as exc:
        raise _fail(str(exc)) from None
    sys.stdout.write(json.dumps(body, indent=2) + "\n")


@sandbox_app.command("request")
def sandbox_request(
    sandbox_id: Annotated[str, typer.Option("--id", help="The sandbox id, e.g. SBX-2026-014.")],
    team: Annotated[str, typer.Option("--team")],
    vendor: Annotated[str, typer.Option("--vendor")],
    devices: Annotated[list[str], typer.Option("--device", help="A device the sandbox covers (repeat for more).")],
    start: Annotated[datetime, typer.Option("--start", help="Window start (RFC 3339 with offset).")],
    end: Annotated[datetime, typer.Option("--end", help="Window end; at most 12 weeks after the start.")],
    budget: Annotated[str, typer.Option("--budget", help="Budget, e.g. 25000.00.")],
    currency: Annotated[str, typer.Option("--currency")] = "USD",
    allows_confidential: Annotated[bool, typer.Option("--allows-confidential", help="Cleared for confidential data.")] = False,
    server: ServerOption = None,
) -> None:
    """Request a sandbox; someone other than the requester approves it."""
    body = {"id": sandbox_id, "team": team, "vendor": vendor, "devices": devices, "start": start.isoformat(),
            "end": end.isoformat(), "budget": budget, "currency": currency, "allowsConfidential": allows_confidential}
    _call(server, "POST", "/v1/sandboxes", json=body)


@sandbox_app.command("approve")
def sandbox_approve(sandbox_id: Annotated[str, typer.Argument()], server: ServerOption = None) -> None:
    """Approve a requested sandbox (procurement; never the requester)."""
    _call(server, "POST", f"/v1/sandboxes/{sandbox_id}/approve")


@sandbox_app.command("reject")
def sandbox_reject(sandbox_id: Annotated[str, typer.Argument()], server: ServerOption = None) -> None:
    """Reject a requested sandbox."""
    _call(server, "POST", f"/v1/sandboxes/{sandbox_id}/reject")


@sandbox_app.command("revoke")
def sandbox_revoke(sandbox_id: Annotated[str, typer.Argument()], server: ServerOption = None) -> None:
    """Revoke a sandbox (procurement): submissions billed to it are denied from now on."""
    _call(server, "POST", f"/v1/sandboxes/{sandbox_id}/revoke")


@sandbox_app.command("list")
def sandbox_list(team: Annotated[Optional[str], typer.Option("--team")] = None, server: ServerOption = None) -> None:
    """List sandboxes (submitters: their own team's)."""
    _call(server, "GET", "/v1/sandboxes", params={"team": team} if team else {})


@waiver_app.command("request")
def waiver_request(
    rule: Annotated[str, typer.Option("--rule", help="The rule to waive, e.g. DC-004.")],
    team: Annotated[str, typer.Option("--team")],
    reason: Annotated[str, typer.Option("--reason")],
    expires: Annotated[datetime, typer.Option("--expires", help="When the waiver stops applying (RFC 3339 with offset).")],
    experiment: Annotated[str, typer.Option("--experiment", help="One experiment, or * for all the team's.")] = "*",
    sandbox: Annotated[Optional[str], typer.Option("--sandbox", help="Only for this sandbox.")] = None,
    server: ServerOption = None,
) -> None:
    """Request a waiver; compliance approves it (never the requester)."""
    body = {"rule": rule, "team": team, "reason": reason, "expires": expires.isoformat(), "experiment": experiment, "sandbox": sandbox}
    _call(server, "POST", "/v1/waivers", json=body)


@waiver_app.command("approve")
def waiver_approve(waiver_id: Annotated[str, typer.Argument()], server: ServerOption = None) -> None:
    """Approve a requested waiver (compliance)."""
    _call(server, "POST", f"/v1/waivers/{waiver_id}/approve")


@waiver_app.command("revoke")
def waiver_revoke(waiver_id: Annotated[str, typer.Argument()], server: ServerOption = None) -> None:
    """Revoke a waiver: it stops applying at once."""
    _call(server, "POST", f"/v1/waivers/{waiver_id}/revoke")


@waiver_app.command("list")
def waiver_list(team: Annotated[Optional[str], typer.Option("--team")] = None, server: ServerOption = None) -> None:
    """List waivers."""
    _call(server, "GET", "/v1/waivers", params={"team": team} if team else {})


def _database():
    """The configured database engine; an unreachable or malformed database is a clear error, exit 2."""
    from sqlalchemy.exc import ArgumentError

    from govern.db.database import create_db_engine

    settings = _settings()
    try:
        return create_db_engine(settings.resolved_database_url())
    except ArgumentError as exc:
        raise _fail(f"GOVERN_DATABASE_URL is not a database URL: {exc}") from None


def _database_errors():
    from sqlalchemy.exc import SQLAlchemyError

    return SQLAlchemyError


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Apply the database migrations (creates the database schema on first use)."""
    from rich.console import Console

    from govern.db.database import current_revision, upgrade

    engine = _database()
    try:
        upgrade(engine, revision)
        Console(highlight=False).print(f"database {engine.url.render_as_string()} at revision {current_revision(engine)}")
    except _database_errors() as exc:
        raise _fail(f"database error: {exc.__class__.__name__}: {exc.orig if hasattr(exc, 'orig') else exc}") from None


@db_app.command("current")
def db_current() -> None:
    """Print the database's migration revision and the newest one govern knows."""
    from rich.console import Console

    from govern.db.database import current_revision, head_revision

    engine = _database()
    try:
        Console(highlight=False).print(f"current: {current_revision(engine) or 'none'}, head: {head_revision(engine)}")
    except _database_errors() as exc:
        raise _fail(f"database error: {exc.__class__.__name__}") from None


@token_app.command("create")
def token_create(
    role: Annotated[str, typer.Option("--role", help="submitter, procurement, compliance, admin, producer (sends lineage events), or service (a govern service sending its own).")],
    team: Annotated[str, typer.Option("--team", help="The team the token acts for.")],
    name: Annotated[str, typer.Option("--name", help="A label to recognise the token by.")] = "token",
) -> None:
    """Create an API token and print it once; only its hash is stored."""
    from pydantic import ValidationError

    from govern.db.database import session_scope
    from govern.db.public import TokenCreate
    from govern.records.tokens import create_token

    try:
        request = TokenCreate(role=role, team=team, name=name)
    except ValidationError as exc:
        raise _fail("; ".join(f"--{e['loc'][0]}: {e['msg']}" for e in exc.errors())) from None
    try:
        with session_scope(_database()) as session:
            token, secret = create_token(session, request)
    except _database_errors() as exc:
        raise _fail(f"database error ({exc.__class__.__name__}); has `govern db upgrade` been run?") from None
    _stderr().print(f"token {token.id} ({token.role.value}, team {token.team}); it is shown only now:", markup=False)
    sys.stdout.write(secret + "\n")


@token_app.command("list")
def token_list(team: Annotated[Optional[str], typer.Option("--team", help="Only this team's tokens.")] = None) -> None:
    """List tokens (never their secrets)."""
    from rich.console import Console
    from rich.table import Table

    from govern.db.database import session_scope
    from govern.records.tokens import list_tokens

    try:
        with session_scope(_database()) as session:
            tokens = list_tokens(session, team)
    except _database_errors() as exc:
        raise _fail(f"database error ({exc.__class__.__name__}); has `govern db upgrade` been run?") from None
    table = Table()
    for column in ("id", "name", "role", "team", "prefix", "created", "revoked"):
        table.add_column(column, overflow="fold")
    for token in tokens:
        table.add_row(
            str(token.id), token.name, token.role.value, token.team, token.prefix,
            token.created_at.isoformat(timespec="seconds"),
            token.revoked_at.isoformat(timespec="seconds") if token.revoked_at else "-",
        )
    Console(width=160).print(table)


@token_app.command("revoke")
def token_revoke(token_id: Annotated[str, typer.Argument(help="The token's id (from `govern token list`).")]) -> None:
    """Revoke a token: it stops authenticating at once."""
    from rich.console import Console

    import uuid

    from govern.db.database import session_scope
    from govern.records.tokens import revoke_token

    try:
        parsed = uuid.UUID(token_id)
    except ValueError:
        raise _fail(f"{token_id!r} is not a token id") from None
    try:
        with session_scope(_database()) as session:
            token = revoke_token(session, parsed)
    except _database_errors() as exc:
        raise _fail(f"database error ({exc.__class__.__name__}); has `govern db upgrade` been run?") from None
    if token is None:
        raise _fail(f"no token with id {token_id}")
    Console(highlight=False).print(f"revoked {token.id} ({token.name})")


lineage_app = typer.Typer(help="Lineage on the service: the graph around a node, delivery status, export.", no_args_is_help=True, **PLAIN_HELP)
app.add_typer(lineage_app, name="lineage")


@lineage_app.command("show")
def lineage_show(
    node_id: Annotated[str, typer.Argument(help="dataset:<namespace>:<name> or job:<namespace>:<name>.")],
    depth: Annotated[int, typer.Option("--depth", min=0, max=20, help="How many hops to follow.")] = 2,
    as_json: Annotated[bool, typer.Option("--json", help="Print the graph as JSON (Marquez's shape).")] = False,
    server: ServerOption = None,
) -> None:
    """The lineage graph around a dataset or an experiment: which data went in, which runs read it."""
    from rich.console import Console

    from govern.client import ClientError

    try:
        _, body = _client(_settings(), server).request("GET", "/api/v1/lineage", params={"nodeId": node_id, "depth": depth})
    except ClientError as exc:
        raise _fail(str(exc)) from None
    if as_json:
        sys.stdout.write(json.dumps(body, indent=2) + "\n")
        return
    console = Console(highlight=False)
    for node in body.get("graph", []):
        console.print(node["id"], markup=False)
        for edge in node.get("outEdges", []):
            console.print(f"  -> {edge['destination']}", markup=False)


@lineage_app.command("status")
def lineage_status(server: ServerOption = None) -> None:
    """Lineage delivery: events waiting in the outbox, failing ones, the oldest and the last error."""
    _call(server, "GET", "/v1/lineage/outbox")


@lineage_app.command("export")
def lineage_export(
    since: Annotated[Optional[int], typer.Option("--since", help="Only events stored after this event id.")] = None,
    server: ServerOption = None,
) -> None:
    """Stream the stored OpenLineage events as JSON Lines (to replay into another backend)."""
    from govern.client import ClientError

    try:
        for line in _client(_settings(), server).stream_lines("/api/v1/lineage/events", params={"since": since} if since else {}):
            sys.stdout.write(line + "\n")
    except ClientError as exc:
        raise _fail(str(exc)) from None


def main() -> None:
    """Console entry point: usage errors exit 2, and no traceback ever reaches the user."""
    try:
        app()
    except KeyboardInterrupt:
        _stderr().print("interrupted")
        sys.exit(130)
    except Exception as exc:  # an internal bug: say so plainly, and never let it pass as an allow
        _stderr().print(f"govern: internal error: {exc.__class__.__name__}: {exc}", markup=False)
        sys.exit(EXIT_BAD_INPUT)
