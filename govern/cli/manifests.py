"""Commands on experiment manifests, for CI and experiment authors: `check` them, print their `schema`,
scaffold one with `init`."""

from __future__ import annotations

import os
import shutil
import sys
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from govern.cli.common import (
    DATABASE_HINT,
    BundleOption,
    PolicyOption,
    client_or_exit,
    database_errors,
    database_or_exit,
    fail,
    policy_engine_and_bundle,
    settings_or_exit,
    stderr_console,
    write_json,
)
from govern.exit_codes import EXIT_OK
from govern.manifest.scaffold import copy_examples, write_scaffold

if TYPE_CHECKING:
    from govern.check.checker import Checker
    from govern.check.report import CheckReport
    from govern.policy.bundle import PolicyBundle

PROGRESS_THRESHOLD = 20
"""Checks of fewer manifests finish before a progress bar would be worth drawing."""


class SchemaKind(str, Enum):
    experiment = "experiment"
    context = "context"


def check(
    paths: Annotated[list[str], typer.Argument(help="Manifest files, folders or globs.", show_default=False)],
    context: Annotated[Optional[Path], typer.Option("--context", "-c", help="Context document (sandboxes, vendors, waivers).")] = None,
    output_format: Annotated[
        Optional[list[str]],
        typer.Option("--format", "-f", help="Output format: text|json|junit|sarif|github; repeat it, with one --output each, for several."),
    ] = None,
    output: Annotated[
        Optional[list[Path]], typer.Option("--output", "-o", help="Write the report to this file instead of stdout (- is stdout).")
    ] = None,
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
    record: Annotated[
        bool, typer.Option("--record", help="Append the decisions to the decision log (GOVERN_DATABASE_URL) and keep the bundle's revision, so they can be replayed.")
    ] = False,
) -> None:
    """Check experiment manifests against the policies: exit 0 allowed, 1 denied, 2 bad input."""
    # lazy: start-up time (the checker, the schemas, the output formats)
    from govern.check.checker import Checker
    from govern.errors import InputError
    from govern.manifest.documents import load_one
    from govern.manifest.schema import Context
    from govern.output.destinations import OutputsError, destinations, write

    try:
        columns = shutil.get_terminal_size().columns if sys.stdout.isatty() else None
        chosen = destinations(output_format or [], output or [], terminal_columns=columns)
    except OutputsError as exc:
        raise fail(str(exc)) from None
    settings = settings_or_exit(bundle=bundle, policy_dirs=policy, engine=engine, workers=workers)
    if now is not None and now.tzinfo is None:
        raise fail("--now needs a UTC offset, e.g. 2026-11-24T12:00:00+00:00")
    try:
        live_context = load_one(context, Context, "Context", settings.max_manifest_bytes) if context else None
    except InputError as exc:
        raise fail(exc.describe()) from None
    server = server or settings.server
    bundle_to_keep = None
    if server:
        if live_context is not None or now is not None:
            raise fail("--context and --now are for local checks; the service uses its live context and clock")
        if record:
            raise fail("--record is for local checks; the service records every decision it makes")
        from govern.client import ServerChecker  # lazy: a local check never loads httpx

        client = client_or_exit(settings, server)
        checker: Checker = ServerChecker(client, max_manifest_bytes=settings.max_manifest_bytes, max_circuit_bytes=settings.max_circuit_bytes, root=root)
    else:
        from govern.circuit.profiling import profiling_options  # lazy: start-up time (qiskit)

        local_engine, bundle_to_keep = policy_engine_and_bundle(settings)
        checker = Checker(
            local_engine,
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
        raise fail("no Experiment manifests found under the given paths")
    if record:
        _record(report, bundle_to_keep)
    try:
        write(report, chosen, os.environ)
    except OSError as exc:
        raise fail(f"cannot write the report: {exc}") from None
    raise typer.Exit(report.exit_code())


def _record(report: CheckReport, bundle: PolicyBundle | None) -> None:
    """Append each decision to the decision log with the bundle revision it names, in one transaction,
    before the report tells anyone what was decided."""
    # lazy: start-up time (sqlalchemy)
    import getpass

    from govern.audit.log import append
    from govern.db.database import session_scope
    from govern.records.policy_revisions import store_revision

    decided = [(r.decision, r.policy_input) for r in report.results if r.decision is not None and r.policy_input is not None]
    actor = f"cli:{getpass.getuser()}"[:64]
    with database_errors(hint=DATABASE_HINT):
        with session_scope(database_or_exit()) as session:
            if bundle is not None:
                store_revision(session, bundle)
            rows = [append(session, decision, policy_input, actor=actor, kind="check") for decision, policy_input in decided]
    if rows:
        stderr_console().print(f"recorded {len(rows)} decision{'' if len(rows) == 1 else 's'} in the decision log (records {rows[0].seq} to {rows[-1].seq})", markup=False)


def _run_with_progress(checker: Checker, paths: list[str], fail_on_warn: bool, workers: int | None, skip_other_kinds: bool) -> CheckReport:
    """The report, with a progress bar on a terminal once there are PROGRESS_THRESHOLD manifests or more."""
    # lazy: start-up time (rich, the checker)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from govern.check.checker import check_paths

    options = {"workers": workers or os.cpu_count() or 2, "skip_other_kinds": skip_other_kinds}
    console = stderr_console()
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


def schema(kind: Annotated[SchemaKind, typer.Argument(help="Which document.")] = SchemaKind.experiment) -> None:
    """Print the JSON Schema of a manifest (for editors and CI validation)."""
    from govern.manifest.schema import Context, Experiment  # lazy: start-up time (pydantic)

    model = Experiment if kind is SchemaKind.experiment else Context
    write_json({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://govern.dev/schemas/v1/{kind.value}.json",
        **model.model_json_schema(by_alias=True),
    })


def init(
    directory: Annotated[Path, typer.Argument(help="Where to write experiment.yaml and its circuit (or the examples).")] = Path("."),
    examples: Annotated[
        bool, typer.Option("--examples", help="Copy the packaged examples (manifests, circuits, context, CI workflow) instead.")
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing files.")] = False,
) -> None:
    """Scaffold an example manifest and circuit that pass the default policies, or copy the packaged examples."""
    from rich.console import Console  # lazy: start-up time (rich)

    try:
        written = copy_examples(directory, force=force) if examples else write_scaffold(directory, force=force)
    except FileExistsError as exc:
        raise fail(f"{exc.args[0]} exists; use --force to overwrite") from None
    console = Console(highlight=False, soft_wrap=True)
    if examples:
        console.print(f"wrote {len(written)} example files under {directory}", markup=False)
        return
    for path in written:
        console.print(f"wrote {path}", markup=False)
