"""The benchmark's cheap probes: Prometheus counters summed by label, CPU per process tree."""
from __future__ import annotations

import os
import subprocess
import sys

from benchmarks.cpu import tree_seconds
from benchmarks.probes import _sum

EXPOSITION = """# HELP qm_inbox_records_total Records read by a consumer, by outcome
# TYPE qm_inbox_records_total counter
qm_inbox_records_total{consumer="aggregation",outcome="handled",topic="qm.reports.validated.v1"} 40.0
qm_inbox_records_total{consumer="aggregation",outcome="handled",topic="qm.alerts.raised.v1"} 2.0
qm_inbox_records_total{consumer="aggregation",outcome="dead_lettered",topic="qm.reports.validated.v1"} 1.0
qm_inbox_records_created{consumer="aggregation",outcome="handled",topic="qm.reports.validated.v1"} 1.7e9
qm_submission_published_total 7.0
"""


def test_counters_are_summed_over_matching_labels_only():
    handled = {"topic": "qm.reports.validated.v1", "outcome": "handled"}
    assert _sum(EXPOSITION, "qm_inbox_records_total", handled) == 40.0
    assert _sum(EXPOSITION, "qm_inbox_records_total", {"outcome": "handled"}) == 42.0
    assert _sum(EXPOSITION, "qm_submission_published_total", {}) == 7.0
    assert _sum(EXPOSITION, "qm_validation_verdicts_total", {}) is None  # absent: try the next candidate


def test_cpu_of_a_tree_includes_children_but_not_other_roots():
    burn = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.3: pass\nimport sys; sys.stdout.write('x'); sys.stdout.flush()\ntime.sleep(30)"
    child = subprocess.Popen([sys.executable, "-c", burn], stdout=subprocess.PIPE)
    try:
        assert child.stdout.read(1) == b"x"  # it has burnt its CPU and now sleeps
        alone = tree_seconds({"me": os.getpid(), "child": child.pid})
        together = tree_seconds({"me": os.getpid()})
        assert alone["child"] >= 0.25
        assert together["me"] - alone["me"] >= 0.25  # the child counts in my tree unless it is a root itself
    finally:
        child.kill()
        child.wait()
