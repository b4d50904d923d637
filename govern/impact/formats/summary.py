"""What the formats for people share: the window in words, and which changed decisions to show first."""

from __future__ import annotations

from govern.impact.analysis import ChangedDecision, ImpactReport, Window


def window_text(window: Window) -> str:
    parts = []
    if window.since is not None:
        parts.append(f"from {window.since.isoformat()}")
    if window.until is not None:
        parts.append(f"until {window.until.isoformat()}")
    if window.team is not None:
        parts.append(f"team {window.team}")
    if window.outcome is not None:
        parts.append(f"recorded {window.outcome}")
    return ", ".join(parts) or "every recorded decision"


def flips_first(report: ImpactReport) -> list[ChangedDecision]:
    """The listed changed decisions, those whose outcome changed first (each group in log order)."""
    return sorted(report.changed_decisions, key=lambda item: item.recorded_outcome == item.new_outcome)
