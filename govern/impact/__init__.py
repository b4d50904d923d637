"""Impact analysis: a candidate bundle replayed on the recorded decisions, before it ships."""
