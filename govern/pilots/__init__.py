"""Pilots: a sandbox's terms (objective, success criteria, failure budget), its failure record, and the
progress measured against them from what was recorded."""
