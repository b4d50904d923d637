"""govern's own lineage store: ingest (read an event), write (keep it and its graph), query (answer from it)."""
