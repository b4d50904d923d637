"""The check step: files → Experiment documents → submissions → profiles → decisions, as results that know their exit code."""
