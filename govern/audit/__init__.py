"""The decision log: hash-chained records, their formats, and signed checkpoints of its head."""
