"""Aggregation: exact running totals of accepted reports, served to readers and the big screen."""
