"""Measuring answers: `qa eval` and the CMRC 2018 metrics."""
