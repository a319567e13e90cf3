"""The `observability` profile of docker-compose.yml (Prometheus, Grafana) and the files it
mounts from deploy/, checked without Docker: what `docker compose --profile observability
config` resolves is schema-valid (test_compose.py) and follows observability_rules.py, and
each rule reports a deliberately broken copy. promtool and the metric names are checked
against the real binaries by e2e/tests/observability.rs.
"""

from __future__ import annotations

import json

import pytest

import compose_rules as R
import observability_rules as O
from test_compose import _del, _set, fail_with


@pytest.fixture(scope="module")
def doc():
    return R.load_yaml()


@pytest.mark.parametrize("rule", O.ALL_RULES, ids=lambda f: f.__name__)
def test_observability_rule(doc, rule):
    fail_with(rule(doc), f"the observability profile breaks {rule.__name__}")


def test_profile_selection(doc):
    plain = O.profile_services(doc, "none")
    observed = O.profile_services(doc, "observability")
    assert observed - plain == {"prometheus", "grafana"}
    assert {"api", "consumer"} <= plain, "the scraped services start without any profile"


def test_profile_is_valid_compose_after_interpolation(doc):
    resolved = R.interpolate(doc)
    schema = R.schema_location()[0]
    fail_with(R.schema_errors(resolved, schema), "the resolved file violates the Compose schema")
    for name in ("prometheus", "grafana"):
        assert resolved["services"][name]["image"].split(":")[1][:1].isalnum()


def test_dashboard_json_is_provisionable():
    dashboard = json.loads((O.GRAFANA_DIR / "dashboards" / "logagg.json").read_text(encoding="utf-8"))
    assert dashboard["uid"] == "logagg"
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    assert len(panels) >= 10
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for panel in panels:
        assert panel["datasource"]["uid"] == "prometheus", panel["title"]
        assert panel["targets"] and all(t["expr"].strip() for t in panel["targets"]), panel["title"]


MUTATIONS = {
    "grafana latest": (_set(["services", "grafana", "image"], "grafana/grafana:latest"), O.check_observability_services),
    "prometheus on all interfaces": (
        _set(["services", "prometheus", "ports"], ["9090:9090"]),
        O.check_observability_services,
    ),
    "grafana off the backend": (_set(["services", "grafana", "networks"], ["frontend"]), O.check_observability_services),
    "prometheus without its rules": (_set(["services", "prometheus", "volumes"], []), O.check_observability_services),
    "grafana starts before prometheus": (_del(["services", "grafana", "depends_on"]), O.check_observability_services),
    "consumer gone": (_del(["services", "consumer"]), O.check_scrape_targets),
    "consumer only in another profile": (_set(["services", "consumer", "profiles"], ["load"]), O.check_scrape_targets),
    "prometheus gone": (_del(["services", "prometheus"]), O.check_grafana_provisioning),
}


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_rule_catches_broken_copy(doc, name):
    edit, rule = MUTATIONS[name]
    assert rule(R.mutated(doc, edit)), f"{rule.__name__} did not notice: {name}"


def test_profiles_rule_keeps_the_profile(doc):
    assert R.check_profiles(R.mutated(doc, _del(["services", "grafana", "profiles"])))
    assert R.check_ports(R.mutated(doc, _set(["services", "migrate", "ports"], ["1:1"])))
