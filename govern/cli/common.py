"""What the `govern` commands share: option types, the exit with a message, settings, the policy bundle and
engine, the service client and the database, and the two handlers that turn a database or service failure into
that exit.

Imports marked `# lazy: start-up time` are inside the functions that use them so that `govern --help` (the
cli_startup_ms benchmark) loads none of rich, pydantic, sqlalchemy, httpx, qiskit or fastapi.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from govern.exit_codes import EXIT_BAD_INPUT

if TYPE_CHECKING:
    from rich.console import Console
    from sqlalchemy.engine import Engine
    from sqlalchemy.exc import SQLAlchemyError

    from govern.client import ClientError, GovernClient
    from govern.policy.bundle import PolicyBundle
    from govern.policy.engines import PolicyEngine
    from govern.settings import Settings

BundleOption = Annotated[
    Optional[Path],
    typer.Option("--bundle", help="Policy bundle folder or bundle.tar.gz (default: GOVERN_BUNDLE, else the shipped bundle)."),
]
PolicyOption = Annotated[
    Optional[list[Path]],
    typer.Option("--policy", help="A team policy folder (packages under govern.custom) to add; repeatable; replaces GOVERN_POLICY_DIRS."),
]
ServerOption = Annotated[Optional[str], typer.Option("--server", help="The govern service (default: GOVERN_SERVER).")]

DATABASE_HINT = "has `govern db upgrade` been run?"


def command_group(help_text: str) -> typer.Typer:
    """A sub-command group that prints its help when called alone, in click's plain format: rich's renders the
    same text but costs a fifth of a second to import."""
    return typer.Typer(help=help_text, no_args_is_help=True, rich_markup_mode=None)


def stderr_console() -> Console:
    from rich.console import Console  # lazy: start-up time (rich)

    return Console(stderr=True, highlight=False)


def fail(message: str, code: int = EXIT_BAD_INPUT) -> typer.Exit:
    """The exit to raise, after printing `error: message` on stderr."""
    from rich.markup import escape  # lazy: start-up time (rich)

    stderr_console().print(f"[bold red]error:[/] {escape(message)}", markup=True, soft_wrap=True)
    return typer.Exit(code)


def write_json(body: Any) -> None:
    """A service answer (or a schema) on stdout, indented for people and still one JSON document for jq."""
    sys.stdout.write(json.dumps(body, indent=2) + "\n")


def settings_or_exit(**overrides: Any) -> Settings:
    """Settings, or a clear exit 2 when the environment or GOVERN_CONFIG holds something invalid."""
    from pydantic import ValidationError  # lazy: start-up time (pydantic)

    from govern.settings import load_settings  # lazy: start-up time (pydantic settings)

    try:
        return load_settings(**overrides)
    except ValidationError as exc:
        raise fail("invalid settings: " + "; ".join(_setting_problem(error) for error in exc.errors())) from None
    except ValueError as exc:
        raise fail(f"invalid settings: {exc}") from None


def _setting_problem(error: Any) -> str:
    """`GOVERN_WORKERS: Input should be a valid integer`: the variable, pydantic's sentence, never the value
    (it may be a secret) or pydantic's documentation link."""
    field = ".".join(str(part) for part in error["loc"]) or "(settings)"
    return f"GOVERN_{field.upper()}: {error['msg']}"


def policy_engine(settings: Settings) -> PolicyEngine:
    """The configured engine, or one that denies everything with the reason it could not be built."""
    return policy_engine_and_bundle(settings)[0]


def policy_engine_and_bundle(settings: Settings) -> tuple[PolicyEngine, PolicyBundle | None]:
    """The configured engine and the bundle it decides with (None when the bundle refused to load: the engine
    then denies everything, saying why)."""
    # lazy: start-up time (the bundle loader and the engines)
    from govern.policy.bundle import BundleError, load_configured_bundle
    from govern.policy.engines import EngineError, UnavailableEngine
    from govern.policy.engines.factory import build_engine

    if settings.engine == "opa" and not settings.opa_url:
        raise fail("the opa engine needs the OPA server's URL: set GOVERN_OPA_URL (https://host:port)")
    if settings.bundle is not None and not Path(settings.bundle).exists():
        raise fail(f"no policy bundle at {settings.bundle}: give a bundle folder or bundle.tar.gz")
    try:
        bundle = load_configured_bundle(settings)
    except BundleError as exc:
        return UnavailableEngine(str(exc)), None
    try:
        return build_engine(settings, bundle), bundle
    except (BundleError, EngineError) as exc:
        return UnavailableEngine(str(exc)), bundle


def bundle_or_exit(path: Path | None, policy_dirs: list[Path] | None) -> PolicyBundle:
    """The bundle with the configured keys and team folders, or a clear exit 2 naming what refused it."""
    from govern.policy.bundle import BundleError, load_configured_bundle  # lazy: start-up time (the bundle loader)

    try:
        return load_configured_bundle(settings_or_exit(policy_dirs=policy_dirs), path)
    except BundleError as exc:
        raise fail(str(exc)) from None


def client_or_exit(settings: Settings, server: str | None = None) -> GovernClient:
    """A client for the service; the token comes from GOVERN_TOKEN and never from the command line."""
    from govern.client import GovernClient  # lazy: start-up time (httpx)

    server = server or settings.server
    if not server:
        raise fail("no service given: use --server URL or GOVERN_SERVER")
    if settings.token is None:
        raise fail("GOVERN_TOKEN is not set (create one with `govern token create`)")
    return GovernClient(server, settings.token.get_secret_value())


@contextmanager
def client_errors(describe: Callable[[ClientError], tuple[str, int]] | None = None) -> Iterator[None]:
    """A refusal by the service (or no answer) exits with a message: by default the error, exit 2."""
    from govern.client import ClientError  # lazy: start-up time (httpx)

    try:
        yield
    except ClientError as exc:
        message, code = describe(exc) if describe else (str(exc), EXIT_BAD_INPUT)
        raise fail(message, code) from None


def call_service(server: str | None, method: str, path: str, **options: Any) -> None:
    """One service call; its JSON answer is printed, a refusal exits 2 with the reason."""
    with client_errors():
        _, body = client_or_exit(settings_or_exit(), server).request(method, path, **options)
    write_json(body)


def database_or_exit() -> Engine:
    """The configured database engine; an unreachable or malformed database is a clear error, exit 2."""
    # lazy: start-up time (sqlalchemy)
    from sqlalchemy.exc import ArgumentError

    from govern.db.database import create_db_engine

    settings = settings_or_exit()
    try:
        return create_db_engine(settings.resolved_database_url())
    except ArgumentError as exc:
        raise fail(f"GOVERN_DATABASE_URL: {exc}") from None


@contextmanager
def database_errors(*, hint: str | None = None, driver_message: bool = False) -> Iterator[None]:
    """A database failure exits 2 naming its class: `database error (Class); hint`, or `database error: Class`,
    followed by the driver's own message when asked for."""
    from sqlalchemy.exc import SQLAlchemyError  # lazy: start-up time (sqlalchemy)

    try:
        yield
    except SQLAlchemyError as exc:
        raise fail(_database_error(exc, hint, driver_message)) from None


def _database_error(exc: SQLAlchemyError, hint: str | None, driver_message: bool) -> str:
    name = exc.__class__.__name__
    if hint is not None:
        return f"database error ({name}); {hint}"
    if driver_message:
        return f"database error: {name}: {getattr(exc, 'orig', exc)}"
    return f"database error: {name}"
