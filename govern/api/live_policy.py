"""The policy the running service decides with: a bundle, its engine and the checker, swapped in together."""

from __future__ import annotations

from fastapi import FastAPI

from govern.check.checker import Checker
from govern.circuit.profiling import profiling_options
from govern.policy.bundle import PolicyBundle
from govern.policy.engines.factory import build_engine
from govern.settings import Settings


def install_bundle(app: FastAPI, bundle: PolicyBundle) -> None:
    """Build an engine for the bundle and swap it in; raises (and changes nothing) if the bundle is refused.

    Requests read the engine once, so each sees either the old bundle or the new one, never a mix.
    """
    settings: Settings = app.state.settings
    engine = build_engine(settings, bundle)
    previous = getattr(app.state, "engine", None)
    app.state.bundle, app.state.engine = bundle, engine
    app.state.checker = Checker(engine, circuit_limits=settings.circuit_limits, **profiling_options(settings))
    if previous is not None:
        previous.close()
