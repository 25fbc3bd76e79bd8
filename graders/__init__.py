"""Grading: nbclient replays, holdout scoring, bug probes, constraint audit, reports; and the history format."""
