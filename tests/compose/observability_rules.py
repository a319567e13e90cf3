"""The rules of the Compose `observability` profile (Prometheus + Grafana), as plain functions
like compose_rules.py: each takes the parsed compose file and returns a list of problems.

What `docker compose --profile observability config` would bring up is checked without Docker:
the profile's services are valid Compose (the schema check of test_compose.py covers every
service, profiled or not), pinned, on loopback, on the network that reaches the scraped
services, and wired to the files under deploy/ (the scrape targets name the Compose services
and ports of the API and the consumers; Grafana's data source names the Prometheus service).
"""

from __future__ import annotations

from typing import Any

import yaml

import compose_rules as R

PROMETHEUS_DIR = R.ROOT / "deploy" / "prometheus"
GRAFANA_DIR = R.ROOT / "deploy" / "grafana"
# Where the logagg services serve /metrics inside the Compose network.
SCRAPED = {"logagg-api": ("api", 8080), "logagg-consumer": ("consumer", 8081)}
IMAGES = {"prometheus": "prom/prometheus:", "grafana": "grafana/grafana:"}


def profile_services(doc: dict[str, Any], profile: str) -> set[str]:
    """The services `docker compose --profile PROFILE up` starts: unprofiled ones and PROFILE's."""
    return {
        name
        for name, svc in R.services(doc).items()
        if not svc.get("profiles") or profile in svc.get("profiles")
    }


def prometheus_config() -> dict[str, Any]:
    return yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text(encoding="utf-8"))


def check_observability_services(doc):
    problems = []
    svcs = R.services(doc)
    for name, prefix in IMAGES.items():
        svc = svcs.get(name)
        if svc is None:
            problems.append(f"the observability profile lacks `{name}`")
            continue
        image = str(R.interpolate(svc.get("image", "")))
        if not image.startswith(prefix) or image.endswith(":latest") or image == prefix:
            problems.append(f"`{name}` must run a pinned {prefix}<version>, found {image!r}")
        for port in R.published_ports(R.interpolate(svc)):
            if port["host_ip"] != "127.0.0.1":
                problems.append(f"`{name}` publishes {port} beyond loopback: it has no authentication of its own worth exposing")
        nets = (doc.get("networks") or {})
        on = R.networks_of(svc)
        if not any((nets.get(n) or {}).get("internal") for n in on):
            problems.append(f"`{name}` must join the internal network (where the API, consumers and Prometheus are), found {on}")
    prometheus = svcs.get("prometheus") or {}
    mounts = dict((dst, src) for src, dst in R.bind_mounts(prometheus))
    if mounts.get("/etc/prometheus") != "./deploy/prometheus":
        problems.append("`prometheus` must mount ./deploy/prometheus at /etc/prometheus (config and alert rules)")
    if "--config.file=/etc/prometheus/prometheus.yml" not in R.command_text(prometheus):
        problems.append("`prometheus` must run with --config.file=/etc/prometheus/prometheus.yml")
    grafana = svcs.get("grafana") or {}
    mounts = dict((dst, src) for src, dst in R.bind_mounts(grafana))
    if mounts.get("/etc/grafana/provisioning") != "./deploy/grafana/provisioning":
        problems.append("`grafana` must mount ./deploy/grafana/provisioning at /etc/grafana/provisioning")
    if mounts.get("/var/lib/grafana/dashboards") != "./deploy/grafana/dashboards":
        problems.append("`grafana` must mount ./deploy/grafana/dashboards where its dashboard provider looks")
    if R.depends_on(grafana).get("prometheus") != "service_healthy":
        problems.append("`grafana` must wait for a healthy `prometheus`")
    return problems


def check_scrape_targets(doc):
    """Every scrape job names a service that runs in the profile, at the port it listens on."""
    problems = []
    running = profile_services(doc, "observability")
    jobs = {job["job_name"]: job for job in prometheus_config().get("scrape_configs") or []}
    for job_name, (service, port) in SCRAPED.items():
        job = jobs.get(job_name)
        if job is None:
            problems.append(f"deploy/prometheus/prometheus.yml has no job {job_name!r}")
            continue
        targets = {(name, sd.get("port")) for sd in job.get("dns_sd_configs") or [] for name in sd.get("names") or []}
        targets |= {
            tuple(t.rsplit(":", 1)[0:1]) + (int(t.rsplit(":", 1)[1]),)
            for sc in job.get("static_configs") or []
            for t in sc.get("targets") or []
        }
        if (service, port) not in targets:
            problems.append(f"job {job_name!r} must scrape `{service}` on port {port}, found {sorted(targets)}")
        if service not in running:
            problems.append(f"job {job_name!r} scrapes `{service}`, which the observability profile does not start")
        for name, _ in targets:
            if name not in R.services(doc):
                problems.append(f"job {job_name!r} scrapes `{name}`, which is no Compose service")
    return problems


def check_grafana_provisioning(doc):
    problems = []
    sources = yaml.safe_load((GRAFANA_DIR / "provisioning" / "datasources" / "prometheus.yml").read_text(encoding="utf-8"))
    urls = [ds.get("url") for ds in sources.get("datasources") or [] if ds.get("type") == "prometheus"]
    if urls != ["http://prometheus:9090"]:
        problems.append(f"Grafana's Prometheus data source must be http://prometheus:9090, found {urls}")
    if "prometheus" not in R.services(doc):
        problems.append("Grafana's data source names `prometheus`, which is no Compose service")
    providers = yaml.safe_load((GRAFANA_DIR / "provisioning" / "dashboards" / "logagg.yml").read_text(encoding="utf-8"))
    paths = [p.get("options", {}).get("path") for p in providers.get("providers") or []]
    if paths != ["/var/lib/grafana/dashboards"]:
        problems.append(f"the dashboard provider must read /var/lib/grafana/dashboards, found {paths}")
    return problems


ALL_RULES = [check_observability_services, check_scrape_targets, check_grafana_provisioning]
