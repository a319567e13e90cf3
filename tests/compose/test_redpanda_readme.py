"""redpanda/README.md: every operator recipe is there, for rpk and for kcat or
the Kafka CLI, in a fenced block marked `<!-- recipe: NAME tool=TOOL -->` so a
test with a broker can run them. These checks need no broker."""

from __future__ import annotations

import json
import re
import shlex
from datetime import datetime, timezone

import pytest

import compose_rules as R

README = R.ROOT / "redpanda" / "README.md"
RECIPE = re.compile(r"<!-- recipe: (?P<name>[\w-]+) tool=(?P<tool>[\w-]+) -->\n```(?:sh|bash)\n(?P<body>.*?)```", re.S)
KAFKA_TOOL_NAMES = {"consumer-groups", "topics", "console-producer", "console-consumer", "get-offsets"}
# recipe -> tools that must have a block for it
REQUIRED = {
    "produce": {"rpk", "kcat", "kafka-cli"},
    "consume": {"rpk", "kcat", "kafka-cli"},
    "describe-group": {"rpk", "kafka-cli"},
    "seek-earliest": {"rpk", "kafka-cli"},
    "seek-timestamp": {"rpk", "kafka-cli"},
    "seek-offsets": {"rpk", "kafka-cli"},
    "create-topic": {"rpk", "kafka-cli"},
}
EVENT_FIELDS = {"topic", "event_id", "timestamp", "source", "payload"}


@pytest.fixture(scope="module")
def text():
    return README.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def recipes(text):
    found = [(m["name"], m["tool"], m["body"]) for m in RECIPE.finditer(text)]
    assert found, "no `<!-- recipe: NAME tool=TOOL -->` blocks in redpanda/README.md"
    return found


def commands(body: str) -> list[list[str]]:
    """The shell words of each command in a block (continuations joined, pipes split)."""
    joined = body.replace("\\\n", " ")
    out = []
    for line in joined.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        for part in line.split(" | "):
            out.append(shlex.split(part))
    return out


def test_every_recipe_has_its_tools(recipes):
    have: dict[str, set[str]] = {}
    for name, tool, _ in recipes:
        have.setdefault(name, set()).add(tool)
    missing = {n: sorted(tools - have.get(n, set())) for n, tools in REQUIRED.items() if tools - have.get(n, set())}
    assert not missing, f"redpanda/README.md lacks these recipe blocks: {missing}"
    dupes = [(n, t) for n, t, _ in recipes if sum(1 for m, u, _ in recipes if (m, u) == (n, t)) > 1]
    assert not dupes, f"recipe blocks given twice: {sorted(set(dupes))}"


# The command each recipe block's tool runs.
TOOL_COMMANDS = {"rpk": "rpk", "kcat": "kcat", "kafka-cli": "scripts/kafka-tool.sh"}


def test_blocks_use_their_tool_and_the_local_broker(recipes):
    problems = []
    for name, tool, body in recipes:
        if tool not in TOOL_COMMANDS:
            problems.append(f"{name}: unknown tool {tool!r} (rpk, kcat or kafka-cli)")
            continue
        cmds = commands(body)
        runs = [c for c in cmds if c and c[0] == TOOL_COMMANDS[tool]]
        if not runs:
            problems.append(f"{name}/{tool} runs no {TOOL_COMMANDS[tool]} command: {[c[0] for c in cmds if c]}")
        for c in runs:
            if tool == "rpk" and "brokers=127.0.0.1:9092" not in c:
                problems.append(f"{name}/rpk: `{shlex.join(c)}` should pass -X brokers=127.0.0.1:9092")
            if tool == "kcat":
                if "-b" not in c or c[c.index("-b") + 1] != "127.0.0.1:9092":
                    problems.append(f"{name}/kcat: `{shlex.join(c)}` should pass -b 127.0.0.1:9092")
                if "-P" in c and "partitioner=murmur2_random" not in c:
                    problems.append(f"{name}/kcat produces without -X partitioner=murmur2_random (keys would land elsewhere)")
            if tool == "kafka-cli":
                if len(c) < 2 or c[1] not in KAFKA_TOOL_NAMES:
                    problems.append(f"{name}/kafka-cli: unknown tool name in `{shlex.join(c)}`; one of {sorted(KAFKA_TOOL_NAMES)}")
                if "--bootstrap-server" not in c or c[c.index("--bootstrap-server") + 1] != "127.0.0.1:9092":
                    problems.append(f"{name}/kafka-cli: `{shlex.join(c)}` should pass --bootstrap-server 127.0.0.1:9092")
    assert not problems, "\n".join(problems)


def test_kafka_tool_names_exist_in_the_wrapper(recipes):
    wrapper = R.ROOT / "scripts" / "kafka-tool.sh"
    if not wrapper.is_file():
        pytest.skip("scripts/kafka-tool.sh is not there yet")
    text = wrapper.read_text(encoding="utf-8")
    for name in sorted(KAFKA_TOOL_NAMES):
        assert re.search(rf"^{re.escape(name)}\s+\S+", text, re.M), f"scripts/kafka-tool.sh does not know `{name}`"


def test_produce_recipes_send_a_valid_event_keyed_by_topic(recipes):
    for name, tool, body in recipes:
        if name != "produce":
            continue
        m = re.search(r"echo '([^']*)'", body)
        assert m, f"produce/{tool}: no `echo '...'` of the record"
        line = m.group(1)
        if tool == "rpk":
            cmd = next(c for c in commands(body) if c[0] == "rpk")
            key, value = cmd[cmd.index("-k") + 1], line
        else:
            sep = "|"
            assert sep in line, f"produce/{tool}: expected KEY|VALUE input"
            key, value = line.split(sep, 1)
        event = json.loads(value)
        assert set(event) == EVENT_FIELDS, f"produce/{tool}: event fields {sorted(event)} != {sorted(EVENT_FIELDS)}"
        assert key == event["topic"], f"produce/{tool}: key {key!r} must equal the event's topic {event['topic']!r}"
        assert isinstance(event["payload"], dict)
        ts = datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00"))
        assert ts.tzinfo is not None, f"produce/{tool}: timestamp must carry a UTC offset"


def test_consume_recipes_show_key_partition_offset(recipes):
    for name, tool, body in recipes:
        if name != "consume":
            continue
        if tool in ("rpk", "kcat"):
            for esc in ("%k", "%p", "%o"):
                assert esc in body, f"consume/{tool} does not print {esc}"
        else:
            for prop in ("print.key=true", "print.partition=true", "print.offset=true"):
                assert prop in body, f"consume/{tool} lacks --property {prop}"
        # Must end by itself (a test runs these).
        assert any(s in body for s in (" -o :end", " -e", "--timeout-ms", "--max-messages")), (
            f"consume/{tool} never stops on its own"
        )


def test_seeks_target_the_group_and_agree(recipes):
    blocks = {(n, t): b for n, t, b in recipes}
    for n in ("seek-earliest", "seek-timestamp", "seek-offsets"):
        assert "rpk group seek logagg" in blocks[(n, "rpk")]
        assert "--group logagg" in blocks[(n, "kafka-cli")] and "--execute" in blocks[(n, "kafka-cli")]
    secs = int(re.search(r"--to (\d{10})\b", blocks[("seek-timestamp", "rpk")]).group(1))
    iso = re.search(r"--to-datetime (\S+)", blocks[("seek-timestamp", "kafka-cli")]).group(1)
    when = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    assert when.tzinfo is not None and when.tzinfo.utcoffset(when) is not None, "--to-datetime needs an explicit zone"
    assert int(when.astimezone(timezone.utc).timestamp()) == secs, (
        f"the rpk ({secs}) and Kafka CLI ({iso}) seek-timestamp recipes name different times"
    )
    rpk_file = re.findall(r"events (\d+) (\d+)", blocks[("seek-offsets", "rpk")])
    cli_file = re.findall(r"events,(\d+),(\d+)", blocks[("seek-offsets", "kafka-cli")])
    assert rpk_file and rpk_file == cli_file, f"seek-offsets: rpk {rpk_file} and Kafka CLI {cli_file} differ"


def test_three_node_notes(text):
    lowered = text.lower()
    for needle in ("replication factor 3", "idle", "partition"):
        assert needle in lowered, f"redpanda/README.md: the three-node notes should cover `{needle}`"
