"""The rules docker-compose.yml must follow, as plain functions.

Each ``check_*`` function takes the parsed compose file (a dict) and returns a
list of problems, each a sentence that says what is wrong and why it matters.
An empty list means the rule holds. test_compose.py asserts that every rule
holds for the real file, and also that each rule catches a deliberately broken
copy (so a rule cannot silently stop checking anything).
"""

from __future__ import annotations

import copy
import json
import re
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"

# Service roles in this project.
PUBLISHING_SERVICES = {"api", "console"}
INFRA_SERVICES = {"redpanda", "postgres"}
JOB_SERVICES = {"redpanda-init", "migrate", "producer"}
# Only with `--profile observability`; they publish on loopback (observability_rules.py).
OBSERVABILITY_SERVICES = {"prometheus", "grafana"}
LONG_RUNNING_SERVICES = {"redpanda", "console", "postgres", "api", "consumer"} | OBSERVABILITY_SERVICES
APP_SERVICES = {"migrate", "api", "consumer", "producer"}
EXPECTED_SERVICES = LONG_RUNNING_SERVICES | JOB_SERVICES
BINARIES = ("logagg-api", "logagg-consumer", "logagg-producer")
# Developer tooling that the image leaves out on purpose.
DEV_BINARIES = ("logagg-bench",)


# --------------------------------------------------------------------- loading
def load_yaml(path: Path = COMPOSE_FILE) -> dict[str, Any]:
    with open(path, encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    if not isinstance(data, dict):
        raise AssertionError(f"{path} does not hold a YAML mapping")
    return data


def schema_location() -> tuple[dict[str, Any], str]:
    """The Compose Specification JSON schema and a line saying where it came from.

    It comes from the PyPI package check-jsonschema, which vendors
    compose-spec/compose-spec's schema/compose-spec.json.
    """
    dist = metadata.distribution("check-jsonschema")
    rel = "check_jsonschema/builtin_schemas/vendor/compose-spec.json"
    path = Path(str(dist.locate_file(rel)))
    if not path.is_file():
        raise AssertionError(
            f"check-jsonschema {dist.version} has no {rel}; "
            "pick a version that vendors the compose spec"
        )
    schema = json.loads(path.read_text(encoding="utf-8"))
    origin = (
        f"check-jsonschema {dist.version} (PyPI): {rel} "
        f"[{schema.get('title')}, {schema.get('$schema')}]"
    )
    return schema, origin


_INTERP = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<braced>[^}]*)\}|(?P<named>[A-Za-z_][A-Za-z0-9_]*))"
)
_BRACED = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>.*))?$", re.S)


def interpolate(value: Any, env: dict[str, str] | None = None) -> Any:
    """Compose-style variable interpolation (``${VAR:-default}`` and friends).

    Applied to every string in the document, as Compose does before it
    validates the file. ``env`` defaults to an empty environment so that the
    defaults written in the file are what gets checked.
    """
    env = {} if env is None else env

    def sub(text: str) -> str:
        def repl(m: re.Match[str]) -> str:
            if m.group("escaped"):
                return "$"
            if m.group("named"):
                return env.get(m.group("named"), "")
            inner = _BRACED.match(m.group("braced"))
            if not inner:
                raise ValueError(f"invalid interpolation ${{{m.group('braced')}}} in {text!r}")
            name, op, arg = inner.group("name"), inner.group("op"), inner.group("arg")
            val = env.get(name)
            if op is None:
                return val or ""
            if op == ":-":
                return val if val else sub(arg)
            if op == "-":
                return val if val is not None else sub(arg)
            if op in (":?", "?"):
                if (val if op == "?" else val or None) is None:
                    raise ValueError(f"required variable {name} is not set: {arg}")
                return val
            if op == ":+":
                return sub(arg) if val else ""
            if op == "+":
                return sub(arg) if val is not None else ""
            raise ValueError(f"unsupported interpolation operator {op!r} in {text!r}")

        return _INTERP.sub(repl, text)

    if isinstance(value, str):
        return sub(value)
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    return value


def schema_errors(doc: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    """Every violation of the schema, one readable line each."""
    import jsonschema

    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
    out = []
    for err in sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.absolute_path))):
        where = ".".join(str(p) for p in err.absolute_path) or "<top level>"
        out.append(f"{where}: {err.message}")
    return out


# --------------------------------------------------------------------- helpers
def services(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return doc.get("services") or {}


def env_of(svc: dict[str, Any]) -> dict[str, str]:
    env = svc.get("environment") or {}
    if isinstance(env, list):
        out = {}
        for item in env:
            key, _, val = str(item).partition("=")
            out[key] = val
        return out
    return {k: "" if v is None else str(v) for k, v in env.items()}


def published_ports(svc: dict[str, Any]) -> list[dict[str, str]]:
    """Each `ports:` entry as {host_ip, published, target}. Any entry publishes."""
    out = []
    for entry in svc.get("ports") or []:
        if isinstance(entry, dict):
            out.append(
                {
                    "host_ip": str(entry.get("host_ip", "")),
                    "published": str(entry.get("published", "")),
                    "target": str(entry.get("target", "")),
                }
            )
            continue
        spec = str(entry).split("/", 1)[0]
        parts = spec.rsplit(":", 2)
        if len(parts) == 3:
            host_ip, published, target = parts
        elif len(parts) == 2:
            host_ip, (published, target) = "", parts
        else:
            host_ip, published, target = "", "", parts[0]
        out.append({"host_ip": host_ip.strip("[]"), "published": published, "target": target})
    return out


def networks_of(svc: dict[str, Any]) -> list[str]:
    nets = svc.get("networks")
    if nets is None:
        return ["default"]
    if isinstance(nets, dict):
        return list(nets)
    return list(nets)


_MEM = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([bkmgt]?)b?\s*$", re.I)


def memory_bytes(value: Any) -> int | None:
    if isinstance(value, int):
        return value
    m = _MEM.match(str(value))
    if not m:
        return None
    scale = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
    return int(float(m.group(1)) * scale[m.group(2).lower()])


def memory_limit(svc: dict[str, Any]) -> Any:
    return (((svc.get("deploy") or {}).get("resources") or {}).get("limits") or {}).get("memory")


def named_volume_mounts(doc: dict[str, Any], svc: dict[str, Any]) -> dict[str, str]:
    """target -> source for every mount of a top-level named volume."""
    declared = set((doc.get("volumes") or {}).keys())
    out = {}
    for vol in svc.get("volumes") or []:
        if isinstance(vol, dict):
            src, dst, kind = vol.get("source"), vol.get("target"), vol.get("type", "volume")
        else:
            parts = str(vol).split(":")
            if len(parts) < 2:
                continue
            src, dst, kind = parts[0], parts[1], "volume"
        if kind == "volume" and src in declared:
            out[str(dst)] = str(src)
    return out


def bind_mounts(svc: dict[str, Any]) -> list[tuple[str, str]]:
    out = []
    for vol in svc.get("volumes") or []:
        if isinstance(vol, dict):
            if vol.get("type") == "bind":
                out.append((str(vol.get("source")), str(vol.get("target"))))
            continue
        parts = str(vol).split(":")
        if len(parts) >= 2 and (parts[0].startswith((".", "/", "~"))):
            out.append((parts[0], parts[1]))
    return out


def healthcheck_text(svc: dict[str, Any]) -> str:
    hc = svc.get("healthcheck") or {}
    if hc.get("disable"):
        return ""
    test = hc.get("test")
    if isinstance(test, list):
        return " ".join(str(t) for t in test)
    return str(test or "")


def command_text(svc: dict[str, Any]) -> str:
    cmd = svc.get("command")
    if isinstance(cmd, list):
        return " ".join(str(c) for c in cmd)
    return str(cmd or "")


def depends_on(svc: dict[str, Any]) -> dict[str, str]:
    dep = svc.get("depends_on") or {}
    if isinstance(dep, list):
        return {name: "service_started" for name in dep}
    return {name: (cfg or {}).get("condition", "service_started") for name, cfg in dep.items()}


# ----------------------------------------------------------------------- rules
def check_service_set(doc):
    have = set(services(doc))
    problems = []
    if missing := EXPECTED_SERVICES - have:
        problems.append(f"services missing from docker-compose.yml: {sorted(missing)}")
    if extra := have - EXPECTED_SERVICES:
        problems.append(
            f"unexpected services {sorted(extra)}: add them to the rules in "
            "tests/compose/compose_rules.py (ports, networks, restart, memory) first"
        )
    return problems


def check_no_version_key(doc):
    if "version" in doc:
        return ["top-level `version:` is obsolete in the Compose Specification; remove it"]
    return []


def check_ports(doc):
    problems = []
    for name, svc in services(doc).items():
        ports = svc.get("ports") or []
        if ports and name not in PUBLISHING_SERVICES | OBSERVABILITY_SERVICES:
            problems.append(
                f"service `{name}` publishes ports {ports}: only {sorted(PUBLISHING_SERVICES)} may "
                "publish ports (the broker and the database must stay on the internal network)"
            )
        if svc.get("network_mode") == "host":
            problems.append(f"service `{name}` uses network_mode: host, which exposes every port it opens")
    for name in sorted(PUBLISHING_SERVICES):
        svc = services(doc).get(name) or {}
        if not svc.get("ports"):
            problems.append(f"service `{name}` publishes no port, but it is meant to be reachable from the host")
    api = published_ports(services(doc).get("api") or {})
    if api and [p["target"] for p in api] != ["8080"]:
        problems.append(f"`api` must publish exactly its port 8080, found {api}")
    console = published_ports(services(doc).get("console") or {})
    if console and [p["target"] for p in console] != ["8080"]:
        problems.append(f"`console` must publish exactly its container port 8080, found {console}")
    return problems


def check_named_volumes_and_healthchecks(doc):
    problems = []
    expect = {
        "redpanda": ("/var/lib/redpanda/data", "rpk cluster health"),
        "postgres": ("/var/lib/postgresql/data", "pg_isready"),
    }
    for name, (target, probe) in expect.items():
        svc = services(doc).get(name) or {}
        mounts = named_volume_mounts(doc, svc)
        if target not in mounts:
            problems.append(
                f"service `{name}` must keep its data in a named volume (declared under top-level "
                f"`volumes:`) mounted at {target}; found mounts {svc.get('volumes')}"
            )
        hc = healthcheck_text(svc)
        if probe not in hc:
            problems.append(f"service `{name}` needs a healthcheck running `{probe}`, found {hc!r}")
    for name in ("api", "consumer"):
        hc = healthcheck_text(services(doc).get(name) or {})
        if "/health" not in hc:
            problems.append(f"service `{name}` needs a healthcheck on its /health endpoint, found {hc!r}")
    return problems


def check_consumer_replicas(doc):
    svc = services(doc).get("consumer") or {}
    replicas = (svc.get("deploy") or {}).get("replicas")
    problems = []
    if replicas != 2:
        problems.append(f"`consumer` must run 2 replicas (deploy.replicas: 2), found {replicas!r}")
    if "container_name" in svc:
        problems.append("`consumer` sets container_name, which makes more than one replica impossible")
    if svc.get("ports"):
        problems.append("`consumer` publishes ports, which collides between replicas")
    return problems


def check_profiles(doc):
    problems = []
    for name, svc in services(doc).items():
        profiles = svc.get("profiles")
        if name == "producer":
            if profiles != ["load"]:
                problems.append(
                    f"`producer` must be only under the `load` profile (profiles: [load]), found {profiles!r}"
                )
        elif name in OBSERVABILITY_SERVICES:
            if profiles != ["observability"]:
                problems.append(
                    f"`{name}` must be only under the `observability` profile, found {profiles!r}"
                )
        elif profiles:
            problems.append(
                f"service `{name}` has profiles {profiles!r}: it would not start with a plain `docker compose up`"
            )
    return problems


def check_restart(doc):
    problems = []
    for name, svc in services(doc).items():
        restart = svc.get("restart")
        if not restart:
            problems.append(f"service `{name}` has no restart policy")
        elif name in LONG_RUNNING_SERVICES and restart != "unless-stopped":
            problems.append(f"long-running service `{name}` should use restart: unless-stopped, found {restart!r}")
        elif name in JOB_SERVICES and not re.fullmatch(r"on-failure(:\d+)?", str(restart)):
            problems.append(f"one-shot job `{name}` should use restart: on-failure, found {restart!r}")
    return problems


def check_memory_limits(doc):
    problems = []
    for name, svc in services(doc).items():
        limit = memory_limit(svc)
        if limit is None:
            problems.append(f"service `{name}` has no memory limit (deploy.resources.limits.memory)")
        elif not memory_bytes(limit):
            problems.append(f"service `{name}` has an unreadable or zero memory limit {limit!r}")
    # Redpanda gets --memory for Seastar; the container limit must leave headroom.
    rp = services(doc).get("redpanda") or {}
    m = re.search(r"--memory[= ](\S+)", command_text(rp))
    limit = memory_bytes(memory_limit(rp) or "")
    if m and limit and memory_bytes(m.group(1)) and limit <= memory_bytes(m.group(1)):
        problems.append(
            f"redpanda's container memory limit {memory_limit(rp)} must exceed its --memory {m.group(1)}"
        )
    return problems


def check_networks(doc):
    problems = []
    nets = doc.get("networks") or {}
    internal = {n for n, cfg in nets.items() if (cfg or {}).get("internal") is True}
    if not internal:
        problems.append("no network has `internal: true`: the broker and database need an internal network")
        return problems
    for name in sorted(INFRA_SERVICES | {"redpanda-init", "migrate"}):
        svc = services(doc).get(name) or {}
        on = networks_of(svc)
        if not on or any(n not in internal for n in on):
            problems.append(
                f"service `{name}` must be attached only to the internal network {sorted(internal)}, found {on}"
            )
    for name in sorted(PUBLISHING_SERVICES):
        on = networks_of(services(doc).get(name) or {})
        if not any(n in internal for n in on):
            problems.append(f"service `{name}` must join the internal network to reach the broker/DB, found {on}")
        if all(n in internal for n in on):
            problems.append(
                f"service `{name}` publishes ports but is only on internal networks {on}: "
                "Docker publishes no port of an internal-only container"
            )
    for name in ("consumer", "producer"):
        on = networks_of(services(doc).get(name) or {})
        if not any(n in internal for n in on):
            problems.append(f"service `{name}` must join the internal network to reach the broker/DB, found {on}")
    for name, svc in services(doc).items():
        for n in networks_of(svc):
            if n != "default" and n not in nets:
                problems.append(f"service `{name}` uses undeclared network `{n}`")
    return problems


def check_app_environment(doc):
    problems = []
    for name in sorted(APP_SERVICES):
        env = env_of(services(doc).get(name) or {})
        if env.get("LOGAGG_KAFKA_BROKERS") != "redpanda:9092":
            problems.append(
                f"`{name}`: LOGAGG_KAFKA_BROKERS must be redpanda:9092, found {env.get('LOGAGG_KAFKA_BROKERS')!r}"
            )
        url = env.get("DATABASE_URL", "")
        if not re.fullmatch(r"postgres(ql)?://[^@/]+@postgres:5432/logagg", url):
            problems.append(f"`{name}`: DATABASE_URL must point at postgres:5432/logagg, found {url!r}")
        if env.get("LOGAGG_KAFKA_TOPIC", "events") != "events":
            problems.append(f"`{name}`: LOGAGG_KAFKA_TOPIC should be events")
        if env.get("LOGAGG_KAFKA_GROUP", "logagg") != "logagg":
            problems.append(f"`{name}`: LOGAGG_KAFKA_GROUP should be logagg")
    api = env_of(services(doc).get("api") or {})
    if api.get("LOGAGG_API_ADDR") != "0.0.0.0:8080":
        problems.append(f"`api`: LOGAGG_API_ADDR must be 0.0.0.0:8080 in a container, found {api.get('LOGAGG_API_ADDR')!r}")
    consumer = env_of(services(doc).get("consumer") or {})
    if consumer.get("LOGAGG_CONSUMER_ADDR") != "0.0.0.0:8081":
        problems.append(
            f"`consumer`: LOGAGG_CONSUMER_ADDR must be 0.0.0.0:8081 in a container, found "
            f"{consumer.get('LOGAGG_CONSUMER_ADDR')!r}"
        )
    pg = env_of(services(doc).get("postgres") or {})
    for key, want in (("POSTGRES_USER", "logagg"), ("POSTGRES_DB", "logagg")):
        if pg.get(key) != want:
            problems.append(f"`postgres`: {key} must be {want!r}, found {pg.get(key)!r}")
    if not pg.get("POSTGRES_PASSWORD"):
        problems.append("`postgres`: POSTGRES_PASSWORD is not set")
    return problems


def check_dependencies(doc):
    problems = []
    want = {
        "api": {"redpanda": "service_healthy", "migrate": "service_completed_successfully"},
        "consumer": {"redpanda": "service_healthy", "migrate": "service_completed_successfully"},
        "migrate": {"postgres": "service_healthy"},
        "redpanda-init": {"redpanda": "service_healthy"},
        "producer": {"api": "service_healthy"},
    }
    for name, deps in want.items():
        have = depends_on(services(doc).get(name) or {})
        for dep, cond in deps.items():
            if have.get(dep) != cond:
                problems.append(f"`{name}` must depend on `{dep}` with condition {cond}, found {have.get(dep)!r}")
    for name, svc in services(doc).items():
        for dep in depends_on(svc):
            if dep not in services(doc):
                problems.append(f"`{name}` depends on unknown service `{dep}`")
    return problems


def check_images_and_commands(doc):
    problems = []
    svcs = services(doc)
    images = {name: str(svcs.get(name, {}).get("image", "")) for name in APP_SERVICES}
    if len(set(images.values())) != 1:
        problems.append(f"the logagg services must all run one image, found {images}")
    builders = [n for n, s in svcs.items() if "build" in s]
    if builders != ["migrate"] and sorted(builders) != sorted(APP_SERVICES):
        problems.append(f"the logagg image should be built by `migrate` (or by every app service), found {builders}")
    for n in APP_SERVICES - set(builders):
        if svcs.get(n, {}).get("pull_policy") not in ("never", "build", "missing", None):
            problems.append(f"`{n}` has an odd pull_policy {svcs[n].get('pull_policy')!r}")
    for n in builders:
        build = svcs[n]["build"]
        dockerfile = build.get("dockerfile", "Dockerfile") if isinstance(build, dict) else "Dockerfile"
        context = build.get("context", ".") if isinstance(build, dict) else build
        if (ROOT / context / dockerfile).resolve() != DOCKERFILE:
            problems.append(f"`{n}` must build the repository's Dockerfile, found context={context!r} dockerfile={dockerfile!r}")
    expect_cmd = {
        "migrate": ("logagg-api", "migrate"),
        "api": ("logagg-api",),
        "consumer": ("logagg-consumer",),
        "producer": ("logagg-producer", "load"),
    }
    for n, words in expect_cmd.items():
        cmd = command_text(svcs.get(n, {})).split()
        if tuple(cmd[: len(words)]) != words:
            problems.append(f"`{n}` must run `{' '.join(words)}`, found {cmd!r}")
    prod = command_text(svcs.get("producer", {}))
    for needle in ("--via http", "--api-url http://api:8080", "--duplicate-ratio"):
        if needle not in prod:
            problems.append(f"`producer` command should contain `{needle}`, found {prod!r}")
    third_party = {
        "redpanda": "docker.redpanda.com/redpandadata/redpanda:",
        "redpanda-init": "docker.redpanda.com/redpandadata/redpanda:",
        "console": "docker.redpanda.com/redpandadata/console:",
        "postgres": "postgres:16",
    }
    for n, prefix in third_party.items():
        img = str(svcs.get(n, {}).get("image", ""))
        if not img.startswith(prefix):
            problems.append(f"`{n}` should run {prefix}..., found {img!r}")
        if img.endswith(":latest"):
            problems.append(f"`{n}` uses a :latest tag; pin a version")
    rp = command_text(svcs.get("redpanda", {}))
    for needle in (
        "redpanda start",
        "--mode=dev-container",
        "--smp=1",
        "--memory=1G",
        "--overprovisioned",
        "--kafka-addr=internal://0.0.0.0:9092",
        "--advertise-kafka-addr=internal://redpanda:9092",
    ):
        if needle.replace("=", " ") not in rp and needle not in rp:
            problems.append(f"`redpanda` command should contain `{needle}`, found {rp!r}")
    return problems


def check_bind_mounts_exist(doc):
    problems = []
    for name, svc in services(doc).items():
        for src, dst in bind_mounts(svc):
            if src.startswith("."):
                if not (ROOT / src).exists():
                    problems.append(f"`{name}` mounts {src} -> {dst}, but {src} does not exist in the repository")
            else:
                problems.append(f"`{name}` bind-mounts the absolute host path {src}; use a path in the repository")
    init = services(doc).get("redpanda-init") or {}
    if not any(src.endswith("redpanda/create-topics.sh") for src, _ in bind_mounts(init)):
        problems.append("`redpanda-init` must run redpanda/create-topics.sh (mount it from ./redpanda/)")
    rp = services(doc).get("redpanda") or {}
    if not any(src.startswith("./redpanda/") for src, _ in bind_mounts(rp)):
        problems.append("`redpanda` must take its configuration from ./redpanda/ (mounted file)")
    return problems


ALL_RULES = [
    check_service_set,
    check_no_version_key,
    check_ports,
    check_named_volumes_and_healthchecks,
    check_consumer_replicas,
    check_profiles,
    check_restart,
    check_memory_limits,
    check_networks,
    check_app_environment,
    check_dependencies,
    check_images_and_commands,
    check_bind_mounts_exist,
]


def mutated(doc: dict[str, Any], fn) -> dict[str, Any]:
    """A deep copy of ``doc`` changed by ``fn`` (which edits it in place)."""
    new = copy.deepcopy(doc)
    fn(new)
    return new


def cargo_bin_names() -> set[str]:
    """Binary names declared by the workspace members' Cargo.toml files."""
    import tomllib

    names = set()
    root = tomllib.loads((ROOT / "Cargo.toml").read_text(encoding="utf-8"))
    for member in root.get("workspace", {}).get("members", []):
        manifest = ROOT / member / "Cargo.toml"
        if not manifest.is_file():
            continue
        data = tomllib.loads(manifest.read_text(encoding="utf-8"))
        for b in data.get("bin", []):
            if "name" in b:
                names.add(b["name"])
        pkg = data.get("package", {}).get("name")
        if pkg and (ROOT / member / "src" / "main.rs").is_file() and not data.get("bin"):
            names.add(pkg)
    return names


