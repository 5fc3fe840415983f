"""Reported numbers, not tests: throughput, latency, the broker's raw limit, memory, cold rebuild."""
