"""Pilot terms as the console's fieldset posts them (templates/_pilot_terms_form.html): the fields as typed,
kept to fill the form again, and the PilotTerms document they make, which the API's own models then check, so
a refusal reads as the API's."""

from __future__ import annotations

import re
from typing import Any

from pydantic.alias_generators import to_camel
from starlette.datastructures import ImmutableMultiDict

from govern.pilots.terms import Metric, PilotTerms

ROWS = 6
"""The criterion rows the form offers; blank ones are ignored."""
MOST_ROWS = 20
"""As many rows as PilotTerms takes criteria: terms with more than ROWS come back with a row each."""
CRITERION_FIELDS = ("name", "metric", "direction", "target", "outcome", "description")
TYPED = ("name", "target", "outcome", "description")
"""What makes a row filled in: its selects always hold a value."""
LIMITS = ("max_failed_jobs", "max_failed_share", "share_after_jobs", "max_failed_spend")
KINDS = ("failed", "cancelled")

METRIC_LABELS = {
    Metric.SUCCESS_RATE: "Success rate (0–1)",
    Metric.AVAILABILITY: "Availability: ran where asked (0–1)",
    Metric.COST_PER_JOB: "Cost per succeeded job",
    Metric.QUEUE_WAIT_P90_S: "Queue wait, p90 (seconds)",
    Metric.REPRODUCIBILITY_RATE: "Reproducibility rate (0–1)",
    Metric.OUTCOME_PROBABILITY: "Outcome probability (0–1)",
    Metric.BASELINE_FIDELITY: "Fidelity to the classical baseline (0–1)",
    Metric.BASELINE_SPEEDUP: "Speed-up over the classical baseline",
}
"""What each Metric is called in the form's select (its value is the metric's own name)."""
DIRECTIONS = {"at_least": "at least", "at_most": "at most"}

Fields = dict[str, Any]
"""`objective`, `criteria` (a dict of strings per row), each of LIMITS as a string, and `counts` (the kinds ticked)."""


def fieldset(terms: Fields) -> dict[str, Any]:
    """What a page renders templates/_pilot_terms_form.html's macro with."""
    return {"terms": terms, "metrics": METRIC_LABELS, "directions": DIRECTIONS}


def _blank_row() -> dict[str, str]:
    return {"name": "", "metric": Metric.SUCCESS_RATE.value, "direction": "at_least", "target": "", "outcome": "", "description": ""}


def _padded(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    return rows + [_blank_row() for _ in range(ROWS - len(rows))]


def fields_of(terms: PilotTerms | None) -> Fields:
    """The fieldset filled in with `terms` (a proposal starts from the sandbox's current terms), or blank."""
    if terms is None:
        return {"objective": "", "criteria": _padded([]), **dict.fromkeys(LIMITS, ""), "counts": ["failed"]}
    budget = terms.failure_budget
    rows = [{"name": criterion.name, "metric": criterion.metric.value, "direction": criterion.direction,
             "target": str(criterion.target).removesuffix(".0"), "outcome": criterion.outcome or "", "description": criterion.description}
            for criterion in terms.criteria]
    limits = {name: "" if getattr(budget, name) is None else str(getattr(budget, name)) for name in LIMITS}
    return {"objective": terms.objective, "criteria": _padded(rows), **limits, "counts": list(budget.counts)}


def posted_fields(form: ImmutableMultiDict[str, str]) -> Fields:
    """The fieldset as posted, rows up to MOST_ROWS. Lengths are left to the terms' own bounds (the form as a
    whole is bounded by govern.console.deps.read_form), so an overlong field is refused in the model's words."""
    rows = []
    for row in range(1, MOST_ROWS + 1):
        if f"criterion-{row}-name" not in form:
            break
        rows.append({name: form.get(f"criterion-{row}-{name}", "").strip() for name in CRITERION_FIELDS})
    limits = {name: form.get(name, "").strip() for name in LIMITS}
    return {"objective": form.get("objective", "").strip(), "criteria": _padded(rows), **limits,
            "counts": [kind for kind in KINDS if form.get(f"counts-{kind}")]}


def _number(text: str) -> float | str:
    """A target as a number; text that is none is passed on for the model to refuse in its words."""
    try:
        return float(text)
    except ValueError:
        return text


def _filled(fields: Fields) -> list[int]:
    """The numbers (from 1) of the rows filled in, in order: the criteria the document holds."""
    return [number for number, row in enumerate(fields["criteria"], 1) if any(row[name] for name in TYPED)]


def with_rows(problem: str, fields: Fields) -> str:
    """A refusal naming `criteria.1`, counted from 0 among the rows filled in, also names the form's row
    (`criteria.1 (criterion 3)`), so a blank row above it does not mislead."""
    rows = _filled(fields)

    def named(match: re.Match[str]) -> str:
        index = int(match.group(1))
        return f"{match.group(0)} (criterion {rows[index]})" if index < len(rows) else match.group(0)

    return re.sub(r"\bcriteria\.(\d+)\b", named, problem)


def terms_document(fields: Fields) -> dict[str, Any] | None:
    """The PilotTerms document (camelCase, as `POST /v1/sandboxes` takes `pilot`) the fields make, not yet
    checked; None when nothing was typed (the ticked counts alone are the form's default, not terms)."""
    rows = [fields["criteria"][number - 1] for number in _filled(fields)]
    if not fields["objective"] and not rows and not any(fields[name] for name in LIMITS):
        return None
    criteria = []
    for row in rows:
        criterion: dict[str, Any] = {"name": row["name"], "metric": row["metric"], "direction": row["direction"],
                                     "target": _number(row["target"]), "description": row["description"]}
        if row["outcome"]:
            criterion["outcome"] = row["outcome"]
        criteria.append(criterion)
    budget: dict[str, Any] = {"counts": fields["counts"]}
    for name in LIMITS:
        if fields[name]:
            budget[to_camel(name)] = fields[name]
    return {"objective": fields["objective"], "criteria": criteria, "failureBudget": budget}
