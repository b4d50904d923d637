"""Lineage: every submission as an OpenLineage run, with govern's custom facets, delivered through an outbox."""
