"""Validation: checks each submitted report against the rule catalogue and emits a verdict."""
