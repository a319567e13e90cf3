"""docker-compose.sasl.yml (Redpanda with SASL/SCRAM), merged over docker-compose.yml the way
`docker compose -f docker-compose.yml -f docker-compose.sasl.yml` merges them, checked
without Docker: the override and the merged file are valid Compose, the merged file keeps
every project rule, and every Kafka client authenticates with the password from the secret.
"""

from __future__ import annotations

import copy

import pytest

import compose_rules as R

SASL_FILE = R.ROOT / "docker-compose.sasl.yml"
# Compose merges these lists (by value) instead of replacing them.
APPENDED = {"volumes", "secrets", "ports", "networks"}


def merge(base, override, key=None):
    """Compose's merge for what the override uses: mappings merge per key, the lists in
    APPENDED are concatenated without duplicates, anything else is replaced."""
    if isinstance(base, dict) and isinstance(override, dict):
        out = copy.deepcopy(base)
        for k, v in override.items():
            out[k] = merge(out[k], v, k) if k in out else copy.deepcopy(v)
        return out
    if isinstance(base, list) and isinstance(override, list) and key in APPENDED:
        return base + [v for v in override if v not in base]
    return copy.deepcopy(override)


@pytest.fixture(scope="module")
def sasl():
    return R.load_yaml(SASL_FILE)


@pytest.fixture(scope="module")
def merged(sasl):
    return merge(R.load_yaml(), sasl)


@pytest.fixture(scope="module")
def schema():
    return R.schema_location()[0]


def test_override_and_merged_file_match_the_schema(sasl, merged, schema):
    assert R.schema_errors(sasl, schema) == []
    assert R.schema_errors(merged, schema) == []
    assert R.schema_errors(R.interpolate(merged, {}), schema) == []


@pytest.mark.parametrize("rule", R.ALL_RULES, ids=lambda f: f.__name__)
def test_merged_file_keeps_the_project_rules(merged, rule):
    assert rule(merged) == []


def test_every_kafka_client_authenticates_with_the_secret(merged):
    services = R.services(merged)
    for name in ("api", "consumer", "producer"):
        env = R.env_of(services[name])
        assert env["LOGAGG_KAFKA_SECURITY_PROTOCOL"] == "SASL_PLAINTEXT", name
        assert env["LOGAGG_KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-256", name
        assert env["LOGAGG_KAFKA_SASL_PASSWORD_FILE"] == "/run/secrets/redpanda_sasl_password", name
        assert "LOGAGG_KAFKA_SASL_PASSWORD" not in env, f"{name}: the password must come from the secret"
        assert "redpanda_sasl_password" in services[name]["secrets"], name
    init = services["redpanda-init"]
    assert "sasl-init.sh" in " ".join(init["entrypoint"])
    assert any(src.endswith("redpanda/sasl-init.sh") for src, _ in R.bind_mounts(init))
    assert merged["secrets"]["redpanda_sasl_password"]["file"].startswith("./.local/"), (
        "the password file lives in the git-ignored .local/"
    )


def test_the_init_script_creates_the_user_and_turns_sasl_on():
    script = (R.ROOT / "redpanda" / "sasl-init.sh").read_text()
    assert "rpk security user create" in script
    assert "enable_sasl true" in script
    assert "create-topics.sh" in script
