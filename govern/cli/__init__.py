"""The `govern` command line, assembled: `check` for CI, `policy` for bundle authors, `schema` and `init` for
editors; `serve`, `worker`, `db`, `token`, `audit` and `demo` for operators; `submit` and the commands that
follow a submission, `sandbox`, `waiver` and `lineage` for the service's users.

Exit codes: 0 all allowed, 1 something denied (or a policy test failed), 2 bad input or usage.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from govern.cli import evidence, impact, manifests, replay, service, submissions  # noqa: F401 - they register `audit pack`, `policy impact` and `audit replay`
from govern.cli.audit import audit_app
from govern.cli.common import fail, stderr_console
from govern.cli.db import db_app
from govern.cli.lineage import lineage_app
from govern.cli.pilots import pilot_app
from govern.cli.policy import policy_app
from govern.cli.sandboxes import sandbox_app
from govern.cli.tokens import token_app
from govern.cli.waivers import waiver_app
from govern.exit_codes import EXIT_BAD_INPUT

app = typer.Typer(
    name="govern",
    help="Governance and compliance checks for quantum experiments: Rego policies, decisions as evidence.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

# In the order `govern --help` lists them: the commands, then the groups.
for command in (
    manifests.check,
    manifests.schema,
    manifests.init,
    service.serve,
    submissions.submit,
    service.worker,
    service.demo,
    submissions.jobs,
    submissions.result,
    submissions.cancel,
    submissions.reproduce,
):
    app.command()(command)
for name, group in (
    ("policy", policy_app),
    ("db", db_app),
    ("token", token_app),
    ("audit", audit_app),
    ("sandbox", sandbox_app),
    ("pilot", pilot_app),
    ("waiver", waiver_app),
    ("lineage", lineage_app),
):
    app.add_typer(group, name=name)


def _print_version(wanted: bool) -> None:
    if wanted:
        from govern.distribution import DISTRIBUTION, installed_version  # lazy: only `govern --version` needs it

        found = installed_version()
        if found is None:
            raise fail(f"govern is not installed as the {DISTRIBUTION} distribution, so it has no version (pip install -e .)")
        sys.stdout.write(f"govern {found}\n")
        raise typer.Exit()


@app.callback()
def root(
    show_version: Annotated[
        bool, typer.Option("--version", help="Print govern's version and exit.", callback=_print_version, is_eager=True)
    ] = False,
) -> None:
    """Governance and compliance checks for quantum experiments: Rego policies, decisions as evidence."""


def main() -> None:
    """Console entry point: usage errors exit 2, and no traceback ever reaches the user."""
    try:
        app()
    except KeyboardInterrupt:
        stderr_console().print("interrupted")
        sys.exit(130)
    except Exception as exc:  # an internal bug: say so plainly, and never let it pass as an allow
        stderr_console().print(f"govern: internal error: {exc.__class__.__name__}: {exc}", markup=False)
        sys.exit(EXIT_BAD_INPUT)
