"""Marquez's read API over govern's lineage store: the shapes Marquez's clients and web UI read (`shapes`),
and the paged questions they ask (`reads`), so marquez-python and the Marquez UI work against govern."""
