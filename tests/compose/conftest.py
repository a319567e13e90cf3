"""Shared pytest setup for tests/compose (run by scripts/compose-check.sh)."""

from __future__ import annotations

import compose_rules


def pytest_report_header(config):
    try:
        _, origin = compose_rules.schema_location()
    except Exception as exc:  # shown in the header; the tests fail with details
        origin = f"UNAVAILABLE ({exc})"
    return [f"compose schema: {origin}", f"compose file: {compose_rules.COMPOSE_FILE}"]
