"""The pack's one-page summary for a person: what ran, who asked, who approved the sandbox, which rules
applied, what it cost and what it produced. HTML through a jinja2 template with autoescaping on (manifest
names, messages and notes are the submitter's text and may hold markup), and the same facts as a PDF with
fpdf2's core fonts, which hold Latin-1 only, so other characters are transliterated or replaced.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from govern.audit.evidence.collect import Evidence

MAX_VALUE_CHARS = 300
MAX_FINDINGS = 30
MAX_LEDGER_ROWS = 20
MAX_OUTCOMES_SHOWN = 4


@dataclass(frozen=True)
class Section:
    heading: str
    rows: list[tuple[str, str]]


@dataclass(frozen=True)
class Summary:
    title: str
    submission_id: str
    created_at: str
    sections: list[Section]
    truncated: list[str]


def _short(value: Any) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= MAX_VALUE_CHARS else text[:MAX_VALUE_CHARS - 1] + "…"


def summarize(evidence: Evidence, created_at: str) -> Summary:
    submission = evidence.submission
    return Summary(
        title=_short(f"{submission['name']} ({submission['team']})"),
        submission_id=submission["id"],
        created_at=created_at,
        sections=[_what_ran(evidence), _who_asked(evidence), _sandbox(evidence), _rules(evidence), _cost(evidence), _produced(evidence)],
        truncated=evidence.truncated,
    )


def _who(evidence: Evidence, actor: str | None) -> str:
    if not actor:
        return "nobody recorded"
    name = evidence.actors.get(actor, "")
    return f"{name} (token {actor})" if name else f"token {actor}"


def _what_ran(evidence: Evidence) -> Section:
    spec = (evidence.manifest or {}).get("spec", {})
    backend = spec.get("backend", {}) if isinstance(spec, dict) else {}
    backend = backend if isinstance(backend, dict) else {}
    rows = [
        ("Experiment", evidence.submission["name"]),
        ("Circuit sha256", evidence.submission["circuit_sha256"]),
        ("Backend", f"{backend.get('vendor', '?')}/{backend.get('device', '?')}"),
        ("Shots", spec.get("shots", "?") if isinstance(spec, dict) else "?"),
    ]
    rows += [(f"{job['kind']} job", f"{job['id']}: {job['status']} on {job['vendor']}/{job['device']}") for job in evidence.jobs]
    if not evidence.jobs:
        rows.append(("Jobs", f"none (the submission was {evidence.submission['outcome']})"))
    return Section("What ran", [(label, _short(value)) for label, value in rows])


def _who_asked(evidence: Evidence) -> Section:
    submission = evidence.submission
    return Section("Who asked", [
        ("Submitted by", _short(_who(evidence, submission["created_by"]))),
        ("Team", _short(submission["team"])),
        ("At", submission["created_at"]),
    ])


def _sandbox(evidence: Evidence) -> Section:
    sandbox = evidence.sandbox
    if sandbox is None:
        return Section("Sandbox", [("Sandbox", "none named")])
    return Section("Sandbox", [(label, _short(value)) for label, value in (
        ("Sandbox", f"{sandbox['id']} ({sandbox['vendor']}, {sandbox['status']})"),
        ("Requested by", _who(evidence, sandbox["requested_by"])),
        ("Approved by", _who(evidence, sandbox["approved_by"])),
        ("Decided at", sandbox["decided_at"] or "not decided"),
        ("Budget", f"{sandbox['budget']} {sandbox['currency']}, {sandbox['spent']} spent"),
    )])


def _rules(evidence: Evidence) -> Section:
    rows: list[tuple[str, str]] = []
    shown = 0
    for row in evidence.decisions:
        decision = json.loads(row.record).get("decision", {})
        rows.append((f"{row.kind} decision", _short(f"{row.decision_id}: {row.outcome}, bundle {row.bundle_revision}")))
        for kind in ("deny", "warn", "waived"):
            for finding in decision.get(kind, []):
                shown += 1
                if shown <= MAX_FINDINGS:
                    rows.append((_short(f"{kind} {finding.get('rule', '?')}"), _short(finding.get("message", ""))))
    if shown > MAX_FINDINGS:
        rows.append(("More", f"{shown - MAX_FINDINGS} more findings in decisions/"))
    if shown == 0:
        rows.append(("Findings", "no rule fired"))
    return Section("Which rules applied", rows)


def _cost(evidence: Evidence) -> Section:
    submission = evidence.submission
    rows = [("Estimated", f"{submission['estimated_cost']} {submission['currency']}")]
    for entry in evidence.ledger[:MAX_LEDGER_ROWS]:
        rows.append((f"Ledger {entry['kind']}", _short(f"{entry['amount']} {entry['currency']} on {entry['sandbox_id']}: {entry['note']}")))
    if len(evidence.ledger) > MAX_LEDGER_ROWS:
        rows.append(("More", f"{len(evidence.ledger) - MAX_LEDGER_ROWS} more entries in ledger.json"))
    rows += [("Charged", f"{r['actual_cost']} {r['currency']} for job {r['job_id']}") for r in evidence.results]
    return Section("What it cost", rows)


def _produced(evidence: Evidence) -> Section:
    rows = []
    for result in evidence.results:
        counts = result["counts"] if isinstance(result["counts"], dict) else {}
        top = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:MAX_OUTCOMES_SHOWN]
        rows.append(("Result", _short(f"{result['result_hash']} (job {result['job_id']})")))
        rows.append(("Counts", _short(f"{sum(counts.values())} shots on {result['device']}; most frequent "
                                      + ", ".join(f"{bits}: {n}" for bits, n in top))))
    return Section("What it produced", rows or [("Result", "none")])


def summary_html(evidence: Evidence, created_at: str) -> str:
    import jinja2  # lazy: only a pack needs it

    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("govern.audit.evidence", "templates"), autoescape=True, undefined=jinja2.StrictUndefined,
    )
    return environment.get_template("summary.html.j2").render(s=summarize(evidence, created_at))


def latin1(text: str) -> str:
    """What fpdf2's core fonts can draw: Latin-1 as it is, other letters without their accents, anything else '?'."""
    return "".join(_latin1_char(c) for c in text.replace("…", "...").replace("—", "-"))


def _latin1_char(char: str) -> str:
    if ord(char) < 256:
        return char
    base = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
    return base if base and all(ord(c) < 256 for c in base) else "?"


def summary_pdf(evidence: Evidence, created_at: str) -> bytes:
    from fpdf import FPDF  # lazy: only a pack needs it

    summary = summarize(evidence, created_at)
    pdf = FPDF(format="A4")
    pdf.set_creation_date(datetime.fromisoformat(created_at))
    pdf.set_auto_page_break(True, margin=10)
    pdf.set_margins(12, 10, 12)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 13)
    pdf.multi_cell(0, 6, latin1(f"Evidence pack: {summary.title}"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 7.5)
    pdf.multi_cell(0, 3.5, latin1(f"Submission {summary.submission_id}, pack written {created_at}. Verify with "
                                  "`govern audit verify-pack FILE.zip --public-key PATH.pub`."), new_x="LMARGIN", new_y="NEXT")
    for section in summary.sections:
        pdf.set_font("Helvetica", "B", 9)
        pdf.cell(0, 5, latin1(section.heading), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", "", 7.5)
        for label, value in section.rows:
            pdf.set_x(12)
            pdf.cell(38, 3.5, latin1(label)[:34])
            pdf.multi_cell(0, 3.5, latin1(value), new_x="LMARGIN", new_y="NEXT")
    for line in summary.truncated:
        pdf.multi_cell(0, 3.5, latin1(f"Left out: {line}"), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
