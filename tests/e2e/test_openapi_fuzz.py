"""schemathesis against every running service's OpenAPI (issue 16, finding 7): no server error, no
status code or content type the document does not declare, every error body in the declared
`{"issues"}` shape, every `$ref` resolvable. Bounded: a fixed seed and twenty cases per
operation keep the whole run to a minute or two."""
from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import httpx
import pytest

from tests.helpers import issue_token

CHECKS = ",".join([
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
])
MAX_EXAMPLES = int(os.environ.get("QM_FUZZ_EXAMPLES", "20"))  # per operation and phase


def _refs(node) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        return found.union(*(_refs(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_refs(v) for v in node))
    return set()


def _resolves(document: dict, ref: str) -> bool:
    node = document
    for part in ref.removeprefix("#/").split("/"):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def _fuzz(base: str, token: str, report: Path) -> tuple[subprocess.CompletedProcess, dict[str, int]]:
    run = subprocess.run(
        [
            sys.executable, "-m", "schemathesis.cli", "run", f"{base}/openapi.json",
            "--checks", CHECKS, "--max-examples", str(MAX_EXAMPLES), "--seed", "2022", "--workers", "1",
            "--header", f"Authorization: Bearer {token}",
            # The stream never ends; its auth and shape are tested in test_aggregation_stream.
            "--exclude-path-regex", "^/v1/stream$",
            "--request-timeout", "30", "--suppress-health-check", "all",
            "--report", "junit", "--report-junit-path", str(report), "--no-color",
        ],
        # Its cache of crashes goes to the working directory: keep it out of the repository.
        capture_output=True, text=True, timeout=600, cwd=report.parent,
    )
    counts = {"failures": 0, "errors": 0}
    if report.exists():
        suite = ET.parse(report).getroot()
        counts = {k: int(suite.get(k, 0)) for k in counts}
    return run, counts


def test_every_service_keeps_to_its_openapi(make_stack, database_url, tmp_path):
    # Rate limits are the submission's to test elsewhere; here they would only starve the fuzzer.
    stack = make_stack(env={"QM_SUBMISSION_RATE_PER_S": "100000", "QM_SUBMISSION_RATE_BURST": "100000"})
    tokens = {"submission": issue_token(database_url, "pudong"), "default": issue_token(database_url, "office", "office")}
    failures = []
    for service in ("submission", "aggregation", "notification", "validation"):
        base = stack.url(service)
        document = httpx.get(f"{base}/openapi.json").json()
        dangling = sorted(r for r in _refs(document) if not _resolves(document, r))
        assert not dangling, (service, dangling)
        token = tokens.get(service, tokens["default"])
        for attempt in range(2):
            run, found = _fuzz(base, token, tmp_path / f"{service}-{attempt}.xml")
            # A crash inside the generator (seen once: CPython 3.11.7's "AST constructor recursion depth
            # mismatch" while hypothesis described a strategy) is an error, not a finding: run once more.
            if run.returncode == 0 or found["failures"] or attempt:
                break
        if run.returncode != 0:
            failures.append(f"--- {service} (exit {run.returncode}, {found})\n{run.stdout[-6000:]}\n{run.stderr[-2000:]}")
    assert not failures, "\n".join(failures)
