"""redpanda/create-topics.sh against a fake `rpk` (no broker needed).

The fake records every call and keeps the topics in a JSON file, so these
tests show what the script asks the broker for on a first run, on a re-run
(idempotence), on a topic with the wrong partition count, and when another
run creates the topic concurrently.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import compose_rules as R

SCRIPT = R.ROOT / "redpanda" / "create-topics.sh"

FAKE_RPK = textwrap.dedent(
    """\
    #!{python}
    import json, os, sys
    state_path = os.environ["FAKE_RPK_STATE"]
    with open(state_path) as fh:
        state = json.load(fh)
    argv = sys.argv[1:]
    args, xs, i = [], [], 0
    while i < len(argv):
        if argv[i] == "-X":
            xs.append(argv[i + 1]); i += 2
        else:
            args.append(argv[i]); i += 1
    with open(os.environ["FAKE_RPK_LOG"], "a") as log:
        log.write(json.dumps({{"args": args, "X": xs}}) + "\\n")

    def save():
        with open(state_path, "w") as fh:
            json.dump(state, fh)

    def flag(name):
        return args[args.index(name) + 1]

    cmd = args[:2]
    if cmd == ["cluster", "info"]:
        if state.get("unreachable_calls", 0) > 0:
            state["unreachable_calls"] -= 1; save()
            print("unable to request metadata: dial tcp: connection refused", file=sys.stderr)
            sys.exit(1)
        print("CLUSTER\\n=======\\nredpanda.fake")
    elif cmd == ["cluster", "config"]:
        print("Successfully updated configuration.")
    elif cmd == ["topic", "list"]:
        print("NAME      PARTITIONS  REPLICAS")
        for name, parts in sorted(state["topics"].items()):
            print(f"{{name:<10}}{{parts:<12}}1")
    elif cmd == ["topic", "create"]:
        name = args[2]
        if state.get("create_error"):
            print(f"TOPIC   STATUS\\n{{name}}  {{state['create_error']}}")
            sys.exit(state.get("create_exit", 1))
        if name in state["topics"] or state.get("race"):
            state["topics"].setdefault(name, int(flag("--partitions"))); save()
            print(f"TOPIC   STATUS\\n{{name}}  TOPIC_ALREADY_EXISTS: The topic has already been created.")
            sys.exit(1)
        state["topics"][name] = int(flag("--partitions")); save()
        print(f"TOPIC   STATUS\\n{{name}}  OK")
    elif cmd == ["topic", "alter-config"]:
        print("TOPIC   STATUS\\n" + args[2] + "  OK")
    elif cmd == ["topic", "add-partitions"]:
        state["topics"][args[2]] += int(flag("--num")); save()
        print("TOPIC   ERROR\\n" + args[2] + "")
    elif cmd == ["topic", "describe"]:
        print("SUMMARY\\n=======\\nNAME        " + args[2])
    else:
        print("fake rpk: unexpected call " + " ".join(args), file=sys.stderr)
        sys.exit(2)
    """
)


@pytest.fixture
def fake(tmp_path):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    rpk = bindir / "rpk"
    rpk.write_text(FAKE_RPK.format(python=sys.executable))
    rpk.chmod(0o755)
    state = tmp_path / "state.json"
    log = tmp_path / "calls.jsonl"

    class Fake:
        def set_state(self, topics=None, **extra):
            state.write_text(json.dumps({"topics": topics or {}, **extra}))
            log.write_text("")

        def topics(self):
            return json.loads(state.read_text())["topics"]

        def calls(self):
            return [json.loads(line) for line in log.read_text().splitlines() if line]

        def run(self, **env):
            full = {
                "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}",
                "FAKE_RPK_STATE": str(state),
                "FAKE_RPK_LOG": str(log),
                "LOGAGG_WAIT_SECONDS": "5",
                "LOGAGG_WAIT_INTERVAL": "0.05",
                **env,
            }
            proc = subprocess.run(
                ["bash", str(SCRIPT)], env=full, capture_output=True, text=True, timeout=60
            )
            self.last = proc
            return proc

        def explain(self):
            return (
                f"exit {self.last.returncode}\n--- stdout\n{self.last.stdout}\n--- stderr\n{self.last.stderr}"
                f"\n--- rpk calls\n" + "\n".join(shlex.join(c["args"]) for c in self.calls())
            )

    f = Fake()
    f.set_state()
    return f


def _subcommands(calls):
    return [" ".join(c["args"][:2]) for c in calls]


def test_script_syntax():
    proc = subprocess.run(["bash", "-n", str(SCRIPT)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_first_run_creates_the_topic(fake):
    proc = fake.run(LOGAGG_KAFKA_BROKERS="redpanda:9092")
    assert proc.returncode == 0, fake.explain()
    assert fake.topics() == {"events": 6}, fake.explain()
    create = [c for c in fake.calls() if c["args"][:2] == ["topic", "create"]]
    assert len(create) == 1, fake.explain()
    args = create[0]["args"]
    assert args[2] == "events"
    assert "--replicas" in args and args[args.index("--replicas") + 1] == "1"
    configs = [args[i + 1] for i, a in enumerate(args) if a == "--topic-config"]
    assert "retention.ms=604800000" in configs and "cleanup.policy=delete" in configs, args
    # Every call goes to the configured brokers.
    assert all("brokers=redpanda:9092" in c["X"] for c in fake.calls()), fake.explain()
    # No admin address given: cluster configuration is left alone.
    assert "cluster config" not in _subcommands(fake.calls())


def test_rerun_is_idempotent(fake):
    assert fake.run().returncode == 0, fake.explain()
    fake.set_state(topics=fake.topics())
    proc = fake.run()
    assert proc.returncode == 0, fake.explain()
    subs = _subcommands(fake.calls())
    assert "topic create" not in subs, f"second run must not try to create the topic again\n{fake.explain()}"
    assert "topic alter-config" in subs, fake.explain()
    assert "topic add-partitions" not in subs
    assert fake.topics() == {"events": 6}


def test_settings_come_from_the_environment(fake):
    proc = fake.run(
        LOGAGG_KAFKA_BROKERS="b1:9092,b2:9092",
        LOGAGG_KAFKA_TOPIC="audit",
        LOGAGG_TOPIC_PARTITIONS="12",
        LOGAGG_TOPIC_REPLICAS="3",
        LOGAGG_TOPIC_RETENTION_MS="86400000",
        LOGAGG_REDPANDA_ADMIN="b1:9644",
    )
    assert proc.returncode == 0, fake.explain()
    assert fake.topics() == {"audit": 12}
    create = next(c for c in fake.calls() if c["args"][:2] == ["topic", "create"])
    assert "retention.ms=86400000" in create["args"]
    assert create["args"][create["args"].index("--replicas") + 1] == "3"
    assert "brokers=b1:9092,b2:9092" in create["X"] and "admin.hosts=b1:9644" in create["X"]
    cfg = [c for c in fake.calls() if c["args"][:3] == ["cluster", "config", "set"]]
    assert cfg and cfg[0]["args"][3:] == ["auto_create_topics_enabled", "false"], fake.explain()


def test_fewer_partitions_are_not_grown_silently(fake):
    fake.set_state(topics={"events": 3})
    proc = fake.run()
    assert proc.returncode == 0, fake.explain()
    assert fake.topics() == {"events": 3}
    assert "WARNING" in proc.stderr and "LOGAGG_TOPIC_ADD_PARTITIONS" in proc.stderr, fake.explain()

    fake.set_state(topics={"events": 3})
    proc = fake.run(LOGAGG_TOPIC_ADD_PARTITIONS="true")
    assert proc.returncode == 0, fake.explain()
    assert fake.topics() == {"events": 6}, fake.explain()


def test_concurrent_creation_is_not_an_error(fake):
    fake.set_state(race=True)
    proc = fake.run()
    assert proc.returncode == 0, fake.explain()
    assert "topic alter-config" in _subcommands(fake.calls()), fake.explain()


@pytest.mark.parametrize("exit_code", [1, 0], ids=["exit-1", "exit-0"])
def test_failed_creation_is_an_error(fake, exit_code):
    fake.set_state(create_error="INVALID_REPLICATION_FACTOR: replication factor must be odd", create_exit=exit_code)
    proc = fake.run(LOGAGG_TOPIC_REPLICAS="2")
    assert proc.returncode != 0, fake.explain()
    assert "INVALID_REPLICATION_FACTOR" in proc.stdout + proc.stderr


def test_waits_for_the_broker(fake):
    fake.set_state(unreachable_calls=2)
    proc = fake.run()
    assert proc.returncode == 0, fake.explain()
    assert _subcommands(fake.calls()).count("cluster info") == 3


def test_gives_up_when_the_broker_never_answers(fake):
    fake.set_state(unreachable_calls=10_000)
    proc = fake.run(LOGAGG_WAIT_SECONDS="1")
    assert proc.returncode != 0, fake.explain()
    assert "not reachable" in proc.stderr


def test_rejects_bad_numbers(fake):
    proc = fake.run(LOGAGG_TOPIC_PARTITIONS="six")
    assert proc.returncode != 0 and "LOGAGG_TOPIC_PARTITIONS" in proc.stderr, fake.explain()


def test_compose_runs_the_script_with_the_same_settings():
    init = R.services(R.load_yaml())["redpanda-init"]
    env = R.env_of(init)
    assert env.get("LOGAGG_KAFKA_BROKERS") == "redpanda:9092"
    assert env.get("LOGAGG_TOPIC_PARTITIONS") == "6"
    assert env.get("LOGAGG_TOPIC_CLEANUP_POLICY", "delete") == "delete"
    entry = " ".join(init.get("entrypoint") or [])
    targets = {dst for _, dst in R.bind_mounts(init)}
    assert any(t in entry for t in targets), f"entrypoint {entry!r} does not run the mounted script {targets}"
