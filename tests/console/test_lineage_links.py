"""A run's panel links to what it names: its decision and the sandbox that paid for it."""

from __future__ import annotations

from govern.console.lineage_graph import _node
from govern.lineage.facets import GovernPolicyDecisionRunFacet, GovernProcurementRunFacet


def test_a_paid_run_links_to_its_decision_and_its_sandbox():
    run = {"decisionId": "d-1", "facets": {GovernPolicyDecisionRunFacet.facet_key: {"outcome": "allowed"},
                                           GovernProcurementRunFacet.facet_key: {"sandbox": "SBX 2026/014", "vendor": "ibm"}}}
    node = _node({"id": "job:govern.qa:vqe", "type": "JOB", "data": {"name": "vqe", "latestRun": run}}, 2)
    assert [link["href"] for link in node["links"][:2]] == ["/ui/decisions/d-1", "/ui/sandboxes/SBX%202026%2F014"]
    unpaid = _node({"id": "job:govern.qa:bell", "type": "JOB", "data": {"name": "bell", "latestRun": {"facets": {}}}}, 2)
    assert not [link for link in unpaid["links"] if link["label"].startswith("Sandbox")]
