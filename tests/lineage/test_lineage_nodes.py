"""The lineage graph's node data read for all nodes at once (`marquez.nodes`) is, node for node, what
`reads.job_data` and `datasets.dataset_data` read one node at a time, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from govern.db.database import session_scope
from govern.lineage.marquez import datasets, nodes, reads
from govern.lineage.store import query, write
from tests.lineage.test_lineage_intake import NOW, SPEC, job_event
from tests.lineage.test_lineage_store import CLEAN, RAW, pipeline
from tests.lineage.test_marquez_api import SCHEMA, with_schema

pytestmark = pytest.mark.slow


def test_batched_node_data_equals_the_per_node_reads(database):
    _, events = pipeline()
    statics = [
        job_event(),  # a job with runs and a static JobEvent
        job_event(name="etl.planned"),  # a job with only a static JobEvent
        {"eventTime": NOW, "producer": "https://dbt", "schemaURL": SPEC + "DatasetEvent",
         "dataset": {"namespace": RAW[0], "name": RAW[1], "facets": {"schema": SCHEMA}}},
    ]
    with session_scope(database) as session:
        write.ingest_many(session, with_schema(events) + statics)
    with session_scope(database) as session:
        graph = query.graph(session, f"dataset:{CLEAN[0]}:{CLEAN[1]}", query.MAX_DEPTH, None)
        found = [query.Node(node["type"].lower(), node["data"]["namespace"], node["data"]["name"]) for node in graph["graph"]]
        batched = nodes.nodes_data(session, found)
        one_by_one = {node: reads.job_data(session, node.namespace, node.name) if node.kind == "job"
                      else datasets.dataset_data(session, node.namespace, node.name) for node in found}
    assert len(found) == 8 and ("job", "airflow-prod", "etl.planned") in batched
    assert batched == one_by_one
    assert [node["data"] for node in graph["graph"]] == [one_by_one[node] for node in found]
