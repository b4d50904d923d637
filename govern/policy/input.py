"""The policy input: the one document the engine sees (see policies/README.md for its shape)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from govern.circuit import CircuitProfile
from govern.manifest.schema import Context, Experiment, epoch_ns
from govern.secrets import SecretFinding, redacted


def experiment_input(experiment: Experiment) -> dict[str, Any]:
    """The manifest as written (camelCase); inline QASM is replaced by a marker, the profile carries its facts."""
    document = experiment.model_dump(mode="json", by_alias=True, exclude_none=True)
    if "qasm" in document["spec"]["circuit"]:
        document["spec"]["circuit"] = {"inline": True}
    return document


def context_input(context: Context) -> dict[str, Any]:
    """Live facts, sandboxes keyed by id and vendors by name, every time as epoch nanoseconds.

    Keyed objects let the policies look records up directly instead of scanning lists; times are epoch
    nanoseconds so the policies compare integers, with no time parsing that engines might do differently.
    """
    spec = context.spec
    sandboxes = {}
    for sandbox in spec.sandboxes:
        item = sandbox.model_dump(mode="json", by_alias=True, exclude_none=True, exclude={"start", "end"})
        item.update(startNs=epoch_ns(sandbox.start), endNs=epoch_ns(sandbox.end))
        sandboxes[sandbox.id] = item
    waivers = []
    for waiver in spec.waivers:
        item = waiver.model_dump(mode="json", by_alias=True, exclude_none=True, exclude={"expires"})
        item["expiresNs"] = epoch_ns(waiver.expires)
        waivers.append(item)
    return {
        "vendors": {v.name: v.model_dump(mode="json", by_alias=True, exclude_none=True) for v in spec.vendors},
        "sandboxes": sandboxes,
        "waivers": waivers,
    }


def relevant_context(context: dict[str, Any], experiment: Experiment) -> dict[str, Any]:
    """The part of the context one submission's decision can depend on: its sandbox, its vendor and its
    team's waivers. Handing the engine less costs less (the whole input is converted per decision), and
    the input hash then covers exactly the facts the decision used."""
    sandbox, vendor = experiment.spec.sandbox, experiment.spec.backend.vendor
    return {
        "vendors": {vendor: context["vendors"][vendor]} if vendor in context["vendors"] else {},
        "sandboxes": {sandbox: context["sandboxes"][sandbox]} if sandbox in context["sandboxes"] else {},
        "waivers": [w for w in context["waivers"] if w["scope"]["team"] == experiment.metadata.team],
    }


def build_policy_input(
    experiment: Experiment,
    profile: CircuitProfile,
    context: dict[str, Any],
    now: datetime | None = None,
    circuit_secrets: Sequence[SecretFinding] = (),
) -> dict[str, Any]:
    """The engine's input; secrets found in the manifest (and, given here, in the circuit) are redacted and
    listed by field and kind instead."""
    document, secrets = redacted(experiment_input(experiment))
    return {
        "experiment": document,
        "secrets": [secret.as_input() for secret in (*secrets, *circuit_secrets)],
        "circuit": profile.model_dump(mode="json", by_alias=True),
        "context": relevant_context(context, experiment),
        "now_ns": epoch_ns(now or datetime.now(UTC)),
    }
