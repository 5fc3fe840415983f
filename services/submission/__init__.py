"""Submission: authenticates units, accepts their events over HTTP, never loses one, publishes them."""
