"""The pilot's state on a run's procurement facet (1-1-0 `pilot`): its criteria and failure budget as they
stood when the event was written, in the transaction that writes it (after a job's ending was counted)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import attr
from openlineage.client.event_v2 import RunEvent
from sqlmodel import Session

from govern.lineage.facets import (
    FailureLimit,
    GovernProcurementRunFacet,
    PilotCriterion,
    PilotFailureBudget,
    PilotState,
)
from govern.pilots.progress import pilot_progress


def pilot_state(session: Session, sandbox_id: str | None, now: datetime) -> PilotState | None:
    """None for a run billed to no sandbox, or to one without pilot terms."""
    if not sandbox_id:
        return None
    progress = pilot_progress(session, sandbox_id, now)
    if progress is None or progress.failure_budget is None:
        return None
    budget = progress.failure_budget
    return PilotState(
        id=progress.pilot_id,
        failureBudget=PilotFailureBudget(state=budget.state, limits=[FailureLimit(use.limit, use.used, use.allowed) for use in budget.limits]),
        criteria=[PilotCriterion(c.name, c.metric, c.direction, c.target, c.value, c.met) for c in progress.criteria],
    )


def with_pilot(session: Session, event: RunEvent, now: datetime) -> RunEvent:
    """The event with its procurement facet carrying the pilot's state, where its sandbox has pilot terms."""
    facets: dict[str, Any] = dict(event.run.facets or {})
    procurement = facets.get(GovernProcurementRunFacet.facet_key)
    if procurement is None:
        return event
    sandbox = procurement.sandbox if isinstance(procurement, GovernProcurementRunFacet) else procurement.get("sandbox")
    state = pilot_state(session, sandbox, now)
    if state is None:
        return event
    if isinstance(procurement, GovernProcurementRunFacet):
        facets[GovernProcurementRunFacet.facet_key] = attr.evolve(procurement, pilot=state)
    else:
        facets[GovernProcurementRunFacet.facet_key] = {**procurement, "pilot": attr.asdict(state)}
    return attr.evolve(event, run=attr.evolve(event.run, facets=facets))
