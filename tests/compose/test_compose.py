"""docker-compose.yml and the Dockerfile, checked without Docker.

1. docker-compose.yml is valid against the official Compose Specification JSON
   schema (as written, and after variable interpolation with the defaults).
2. The project's invariants hold (compose_rules.py): only api and console
   publish ports, named volumes and healthchecks, 2 consumers, the load
   profile, restart policies, memory limits, the internal network, the
   environment of the logagg services, ...
3. Each invariant is proven to bite: it reports a deliberately broken copy.
4. The Dockerfile builds and ships the three binaries (text checks).

Run with scripts/compose-check.sh.
"""

from __future__ import annotations

import re

import pytest

import compose_rules as R


def fail_with(problems: list[str], what: str) -> None:
    if problems:
        pytest.fail(
            f"{what}: {len(problems)} problem(s)\n  - " + "\n  - ".join(problems),
            pytrace=False,
        )


@pytest.fixture(scope="session")
def doc():
    return R.load_yaml()


@pytest.fixture(scope="session")
def schema():
    return R.schema_location()[0]


# ---------------------------------------------------------------- the schema
def test_schema_is_the_compose_specification(schema):
    assert schema.get("title") == "Compose Specification", schema.get("title")
    # The spec's current features must be known to it (an old schema would
    # reject valid files or accept stale ones).
    assert "services" in schema["properties"]
    assert "include" in schema["properties"], "schema predates the `include` element: too old"
    assert "$defs" in schema or "definitions" in schema


def test_compose_file_matches_schema(doc, schema):
    fail_with(R.schema_errors(doc, schema), "docker-compose.yml violates the Compose Specification schema")


def test_compose_file_matches_schema_after_interpolation(doc, schema):
    try:
        resolved = R.interpolate(doc)
    except ValueError as exc:
        pytest.fail(f"docker-compose.yml: variable interpolation failed with an empty environment: {exc}")
    fail_with(
        R.schema_errors(resolved, schema),
        "docker-compose.yml (variables replaced by their defaults) violates the Compose Specification schema",
    )


def test_schema_rejects_a_broken_file(doc, schema):
    """The validator is live: an unknown key and a wrongly typed value are reported."""
    broken = R.mutated(doc, lambda d: d["services"]["postgres"].update({"portz": ["5432:5432"]}))
    assert any("portz" in e for e in R.schema_errors(broken, schema))
    broken = R.mutated(doc, lambda d: d["services"]["consumer"]["deploy"].update({"replicas": [2]}))
    assert any("replicas" in e for e in R.schema_errors(broken, schema))
    broken = R.mutated(
        doc, lambda d: d["services"]["api"].update({"depends_on": {"migrate": {"condition": "done"}}})
    )
    assert any("depends_on" in e for e in R.schema_errors(broken, schema))


# ------------------------------------------------------------ the invariants
@pytest.mark.parametrize("rule", R.ALL_RULES, ids=lambda f: f.__name__)
def test_invariant(doc, rule):
    fail_with(rule(doc), f"docker-compose.yml breaks {rule.__name__}")


@pytest.mark.parametrize("resolved", [False, True], ids=["as-written", "interpolated"])
def test_invariants_hold_after_interpolation(doc, resolved):
    d = R.interpolate(doc) if resolved else doc
    problems = [p for rule in R.ALL_RULES for p in rule(d)]
    fail_with(problems, "docker-compose.yml breaks the project rules")


def _set(path, value):
    def edit(d):
        node = d
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = value

    return edit


def _del(path):
    def edit(d):
        node = d
        for key in path[:-1]:
            node = node[key]
        node.pop(path[-1], None)

    return edit


# Each broken copy must be reported by the named rule.
MUTATIONS = {
    "postgres publishes 5432": (_set(["services", "postgres", "ports"], ["5432:5432"]), R.check_ports),
    "redpanda publishes 9092": (_set(["services", "redpanda", "ports"], [{"target": 9092, "published": 9092}]), R.check_ports),
    "consumer publishes 8081": (_set(["services", "consumer", "ports"], ["8081"]), R.check_ports),
    "api publishes nothing": (_del(["services", "api", "ports"]), R.check_ports),
    "postgres on host network": (_set(["services", "postgres", "network_mode"], "host"), R.check_ports),
    "postgres data in a bind mount": (
        _set(["services", "postgres", "volumes"], ["./pgdata:/var/lib/postgresql/data"]),
        R.check_named_volumes_and_healthchecks,
    ),
    "redpanda without healthcheck": (_del(["services", "redpanda", "healthcheck"]), R.check_named_volumes_and_healthchecks),
    "postgres without healthcheck": (_del(["services", "postgres", "healthcheck"]), R.check_named_volumes_and_healthchecks),
    "one consumer": (_set(["services", "consumer", "deploy", "replicas"], 1), R.check_consumer_replicas),
    "producer always on": (_del(["services", "producer", "profiles"]), R.check_profiles),
    "api in the load profile": (_set(["services", "api", "profiles"], ["load"]), R.check_profiles),
    "console without restart": (_del(["services", "console", "restart"]), R.check_restart),
    "migrate restarts always": (_set(["services", "migrate", "restart"], "always"), R.check_restart),
    "api without memory limit": (_del(["services", "api", "deploy"]), R.check_memory_limits),
    "redpanda limit below --memory": (
        _set(["services", "redpanda", "deploy", "resources", "limits", "memory"], "512M"),
        R.check_memory_limits,
    ),
    "backend not internal": (_set(["networks", "backend", "internal"], False), R.check_networks),
    "postgres on frontend": (_set(["services", "postgres", "networks"], ["backend", "frontend"]), R.check_networks),
    "redpanda on default network": (_del(["services", "redpanda", "networks"]), R.check_networks),
    "api only internal": (_set(["services", "api", "networks"], ["backend"]), R.check_networks),
    "api talks to localhost broker": (
        _set(["services", "api", "environment", "LOGAGG_KAFKA_BROKERS"], "127.0.0.1:9092"),
        R.check_app_environment,
    ),
    "consumer talks to localhost db": (
        _set(["services", "consumer", "environment", "DATABASE_URL"], "postgres://logagg:logagg@127.0.0.1:5432/logagg"),
        R.check_app_environment,
    ),
    "api listens on loopback": (
        _set(["services", "api", "environment", "LOGAGG_API_ADDR"], "127.0.0.1:8080"),
        R.check_app_environment,
    ),
    "api ignores migrate": (_del(["services", "api", "depends_on", "migrate"]), R.check_dependencies),
    "consumer starts before broker healthy": (
        _set(["services", "consumer", "depends_on", "redpanda"], {"condition": "service_started"}),
        R.check_dependencies,
    ),
    "consumer runs the api binary": (_set(["services", "consumer", "command"], ["logagg-api"]), R.check_images_and_commands),
    "redpanda latest": (
        _set(["services", "redpanda", "image"], "docker.redpanda.com/redpandadata/redpanda:latest"),
        R.check_images_and_commands,
    ),
    "top-level version": (_set(["version"], "3.8"), R.check_no_version_key),
    "missing init job": (_del(["services", "redpanda-init"]), R.check_service_set),
    "missing topic script": (
        _set(["services", "redpanda-init", "volumes"], ["./redpanda/nope.sh:/opt/logagg/create-topics.sh:ro"]),
        R.check_bind_mounts_exist,
    ),
}


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_rule_catches_broken_copy(doc, name):
    edit, rule = MUTATIONS[name]
    broken = R.mutated(doc, edit)
    assert rule(broken), f"{rule.__name__} did not notice: {name}"


# ------------------------------------------------------------ the Dockerfile
@pytest.fixture(scope="session")
def dockerfile():
    return R.DOCKERFILE.read_text(encoding="utf-8")


def _stages(text: str) -> list[tuple[str, str]]:
    """(image, alias) of every FROM line, with ARG defaults substituted."""
    args = dict(re.findall(r"^ARG\s+(\w+)=(\S+)", text, re.M))
    out = []
    for image, alias in re.findall(r"^FROM\s+(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?", text, re.M | re.I):
        image = re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: args.get(m.group(1) or m.group(2), m.group(0)), image)
        out.append((image, alias))
    return out


def test_dockerfile_is_multi_stage(dockerfile):
    stages = _stages(dockerfile)
    assert len(stages) >= 2, f"expected a builder and a runtime stage, found {stages}"
    builder, runtime = stages[0][0], stages[-1][0]
    assert re.fullmatch(r"rust:1[\w.-]*-bookworm", builder), f"builder should be rust:1-bookworm, found {builder}"
    assert runtime == "debian:bookworm-slim", f"runtime should be debian:bookworm-slim, found {runtime}"


def test_dockerfile_builds_all_binaries(dockerfile):
    assert re.search(r"cargo build[^\n]*--release", dockerfile), "no `cargo build --release` in the Dockerfile"
    assert re.search(r"cargo build[^\n]*--bins", dockerfile), "the Dockerfile should build the product binaries (--bins)"
    missing = [b for b in R.BINARIES if b not in dockerfile]
    assert not missing, f"the Dockerfile never mentions {missing}"
    copy_lines = [line for line in dockerfile.splitlines() if line.startswith("COPY --from=")]
    for b in R.BINARIES:
        assert any(b in line for line in copy_lines), f"{b} is not copied into the runtime image"


def test_dockerfile_binaries_match_cargo(dockerfile):
    declared = R.cargo_bin_names()
    if not declared:
        pytest.skip("no Cargo manifests declare binaries yet")
    missing = set(R.BINARIES) - declared
    assert not missing, f"the Dockerfile ships {sorted(missing)}, which no Cargo.toml declares (declared: {sorted(declared)})"
    unshipped = {b for b in declared if b.startswith("logagg-")} - set(R.BINARIES) - set(R.DEV_BINARIES)
    assert not unshipped, f"Cargo declares binaries the image does not ship: {sorted(unshipped)}"


def test_dockerfile_packages(dockerfile):
    build_deps = ("cmake", "g++", "make", "pkg-config", "libssl-dev", "libcurl4-openssl-dev", "libsasl2-dev", "zlib1g-dev")
    runtime_deps = ("libssl3", "libcurl4", "libsasl2-2", "ca-certificates")
    runtime = dockerfile.split("AS runtime", 1)[-1] if "AS runtime" in dockerfile else dockerfile
    missing = [p for p in build_deps if not re.search(rf"(?<![\w.-]){re.escape(p)}(?![\w.-])", dockerfile)]
    assert not missing, f"builder stage lacks {missing} (needed by rdkafka's cmake-build)"
    missing = [p for p in runtime_deps if not re.search(rf"(?<![\w.-]){re.escape(p)}(?![\w.-])", runtime)]
    assert not missing, f"runtime stage lacks {missing}"
    assert "libpq" not in dockerfile, "libpq is not needed (diesel-async uses tokio-postgres)"


def test_dockerfile_runs_as_non_root(dockerfile):
    users = re.findall(r"^USER\s+(\S+)", dockerfile, re.M)
    assert users, "the Dockerfile never switches to a non-root USER"
    assert users[-1].split(":")[0] not in ("root", "0"), f"the final USER is {users[-1]}"


def test_dockerfile_has_what_compose_healthchecks_use(doc, dockerfile):
    runtime = dockerfile.split("AS runtime", 1)[-1]
    for name in sorted(R.APP_SERVICES):
        hc = R.healthcheck_text(R.services(doc).get(name) or {})
        for tool in ("curl", "wget"):
            if re.search(rf"\b{tool}\b", hc):
                assert re.search(rf"(?<![\w-]){tool}(?![\w-])", runtime), (
                    f"`{name}`'s healthcheck runs {tool}, which the runtime image does not install"
                )


def test_dockerignore_keeps_the_sources():
    patterns = [
        line.strip()
        for line in R.DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert any(p.strip("/") in ("target", "**/target") for p in patterns), ".dockerignore should leave out target/"
    needed = ["Cargo.toml", "Cargo.lock", "migrations", "core", "producer", "consumer", "api", "e2e"]
    excluded = [n for n in needed if any(p.strip("/").lstrip("*/") == n for p in patterns if not p.startswith("!"))]
    assert not excluded, f".dockerignore leaves out {excluded}, which the build needs"
