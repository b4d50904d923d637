"""`govern policy`, for bundle authors: run the Rego unit tests, check that the embedded engine can evaluate
the bundle faithfully, list the rule catalogue, sign the bundle."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from govern.cli.common import BundleOption, PolicyOption, bundle_or_exit, command_group, fail
from govern.exit_codes import EXIT_DENIED, EXIT_OK
from govern.policy.jws_algorithms import SignatureAlgorithm

if TYPE_CHECKING:
    from rich.console import Console

    from govern.policy.testing import FileCoverage

policy_app = command_group("Test, check and list the Rego policy bundle.")


class ListFormat(str, Enum):
    text = "text"
    json = "json"


@policy_app.command("test")
def policy_test(
    bundle: BundleOption = None,
    policy: PolicyOption = None,
    run: Annotated[Optional[str], typer.Option("--run", "-r", help="Only tests whose package.name matches this regex.")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="List every test, not only failures.")] = False,
    coverage: Annotated[bool, typer.Option("--coverage", help="Report which lines of the policies the tests evaluated.")] = False,
) -> None:
    """Run the bundle's Rego unit tests (*_test.rego) on the embedded engine: exit 1 on any failure."""
    # lazy: start-up time (rich, the engines)
    from rich.console import Console
    from rich.markup import escape

    from govern.policy.engines import EngineError
    from govern.policy.testing import run_tests

    loaded = bundle_or_exit(bundle, policy)
    try:
        outcome = run_tests(loaded, run, coverage=coverage)
    except EngineError as exc:
        raise fail(str(exc)) from None
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
        raise fail("no Rego tests found (rules named test_* in *_test.rego files)")
    raise typer.Exit(EXIT_DENIED if failed else EXIT_OK)


def _print_coverage(console: Console, files: Iterable[FileCoverage]) -> None:
    from rich.table import Table  # lazy: start-up time (rich)

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
    # lazy: start-up time (rich, the engines)
    from rich.console import Console

    from govern.policy.bundle import BundleError
    from govern.policy.check import check_bundle
    from govern.policy.engines import EngineError
    from govern.policy.engines.embedded import RegorusEngine

    loaded = bundle_or_exit(bundle, policy)
    problems = check_bundle(loaded)
    console = Console(highlight=False)
    for problem in problems:
        console.print(str(problem), markup=False)
    if any(p.fatal for p in problems):
        raise fail(f"bundle {loaded.root} refused", EXIT_DENIED)
    try:
        RegorusEngine(loaded, workers=1).close()
    except (BundleError, EngineError) as exc:
        raise fail(str(exc), EXIT_DENIED) from None
    console.print(
        f"bundle ok: revision {loaded.manifest_revision} ({loaded.revision}), "
        f"{len(loaded.policy_modules)} policy modules, {len(loaded.test_modules)} test modules, "
        f"{len(loaded.catalogue)} rules"
    )


@policy_app.command("list")
def policy_list(
    bundle: BundleOption = None,
    policy: PolicyOption = None,
    output_format: Annotated[ListFormat, typer.Option("--format", "-f", help="text (a table) or json.")] = ListFormat.text,
) -> None:
    """The rule catalogue, from the rules' METADATA: id, area, kind, severity, waivable, title."""
    # lazy: start-up time (rich)
    from rich.console import Console
    from rich.table import Table

    loaded = bundle_or_exit(bundle, policy)
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
    # lazy: start-up time (rich, cryptography)
    from rich.console import Console

    from govern.policy.archive import read_bundle_files, write_archive
    from govern.policy.bundle import BundleError, assemble
    from govern.policy.signing import SIGNATURES_FILE, sign_files
    from govern.policy.signing import signing_key as read_signing_key

    try:
        contents = read_bundle_files(bundle)
        contents.pop(SIGNATURES_FILE, None)
        assemble(bundle, contents)
        signatures = sign_files(contents, read_signing_key(signing_key, signing_alg), signing_alg, key_id or "", scope or "")
    except BundleError as exc:
        raise fail(str(exc)) from None
    try:
        if bundle.is_dir():
            target = output or bundle
            target = target / SIGNATURES_FILE if target.is_dir() else target
            target.write_bytes(signatures)
        else:
            target = output or bundle.with_name(bundle.name.removesuffix(".tar.gz").removesuffix(".tgz") + ".signed.tar.gz")
            write_archive(target, {**contents, SIGNATURES_FILE: signatures})
    except OSError as exc:
        raise fail(f"cannot write {output or bundle}: {exc.strerror or exc}") from None
    Console(highlight=False).print(f"signed {len(contents)} files of {bundle} ({signing_alg}): {target}", markup=False)
