"""The seed's measures (reproducibility, procurement lead time, pilots, queue wait, backend availability,
decisions and the rules that deny most), worked out from recorded facts over a window, overall and per team.
`report` is the one entry point: `GET /v1/kpis` answers it as JSON and the console's KPI page renders it."""

from govern.kpis.report import report
from govern.kpis.schema import KpiReport
from govern.kpis.window import InvalidWindow, Window

__all__ = ["InvalidWindow", "KpiReport", "Window", "report"]
