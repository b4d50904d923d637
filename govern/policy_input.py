"""The policy input: the one document the engine sees (see policies/README.md for its shape)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from govern.circuit import CircuitProfile
from govern.manifest import Context, Experiment, epoch_ns


def experiment_input(experiment: Experiment) -> dict[str, Any]:
    """The manifest as written (camelCase); inline QASM is replaced by a marker, the profile carries its facts."""
    document = experiment.model_dump(mode="json", by_alias=True, exclude_none=True)
    if "qasm" in document["spec"]["circuit"]:
        document["spec"]["circuit"] = {"inline": True}
    return document


def context_input(context: Context) -> dict[str, Any]:
    """Live facts with every time as epoch nanoseconds (the embedded engine rejects RFC 3339 'Z' strings)."""
    spec = context.spec
    sandboxes = []
    for sandbox in spec.sandboxes:
        item = sandbox.model_dump(mode="json", by_alias=True, exclude_none=True, exclude={"start", "end"})
        item.update(startNs=epoch_ns(sandbox.start), endNs=epoch_ns(sandbox.end))
        sandboxes.append(item)
    waivers = []
    for waiver in spec.waivers:
        item = waiver.model_dump(mode="json", by_alias=True, exclude_none=True, exclude={"expires"})
        item["expiresNs"] = epoch_ns(waiver.expires)
        waivers.append(item)
    return {
        "vendors": [v.model_dump(mode="json", by_alias=True, exclude_none=True) for v in spec.vendors],
        "sandboxes": sandboxes,
        "waivers": waivers,
    }


def build_policy_input(
    experiment: Experiment,
    profile: CircuitProfile,
    context: dict[str, Any],
    now: datetime | None = None,
) -> dict[str, Any]:
    return {
        "experiment": experiment_input(experiment),
        "circuit": profile.model_dump(mode="json", by_alias=True),
        "context": context,
        "now_ns": epoch_ns(now or datetime.now(timezone.utc)),
    }
