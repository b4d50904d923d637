"""The pilot report as a one-page A4 PDF with fpdf2's core fonts (Latin-1: other characters are
transliterated as the evidence pack's summary does); each record link is a live link to its path."""

from __future__ import annotations

from govern.audit.evidence.summary import latin1
from govern.pilots.report.sections import build
from govern.pilots.schema import PilotProgress


def render(progress: PilotProgress) -> bytes:
    from fpdf import FPDF  # lazy: only a PDF report needs it

    report = build(progress)
    pdf = FPDF(format="A4")
    pdf.set_creation_date(progress.measured_at)
    pdf.set_auto_page_break(True, margin=10)
    pdf.set_margins(12, 10, 12)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 13)
    pdf.multi_cell(0, 6, latin1(report.title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 8.5)
    for label, text in (("Objective", report.objective), ("Overall", report.overall)):
        pdf.multi_cell(0, 4, latin1(f"{label}: {text}"), new_x="LMARGIN", new_y="NEXT")
    for section in report.sections:
        if not section.lines:
            continue
        pdf.set_font("Helvetica", "B", 9.5)
        pdf.cell(0, 6, latin1(section.heading), new_x="LMARGIN", new_y="NEXT")
        for line in section.lines:
            pdf.set_font("Helvetica", "B" if line.verdict else "", 7.5)
            pdf.cell(40, 3.6, latin1(line.label)[:36])
            pdf.set_font("Helvetica", "", 7.5)
            verdict = f" [{line.verdict}]" if line.verdict else ""
            pdf.multi_cell(0, 3.6, latin1(f"{line.value}{verdict}"), new_x="LMARGIN", new_y="NEXT")
            if line.links:
                pdf.set_x(52)
                for link in line.links:
                    width = pdf.get_string_width(latin1(link.text)) + 2
                    if pdf.get_x() + width > pdf.w - pdf.r_margin:
                        pdf.ln(3.4)
                        pdf.set_x(52)
                    pdf.set_text_color(9, 105, 218)
                    pdf.cell(width, 3.4, latin1(link.text), link=link.href)
                pdf.set_text_color(0, 0, 0)
                pdf.cell(0, 3.4, f"and {line.more} more" if line.more else "", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "I", 6.5)
    pdf.multi_cell(0, 3.2, latin1(report.footnote), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
