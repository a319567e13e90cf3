//! Every kcat / Kafka CLI recipe of redpanda/README.md, run as written against the test's own
//! topic and consumer group (the README's `events`, `logagg`, broker, scratch files and
//! example times substituted), and checked through the tools' output, the running
//! logagg-consumer's effect in PostgreSQL and the API's /stats. The commands are extracted from
//! the README by their `<!-- recipe: NAME tool=TOOL -->` markers, so a changed recipe is a
//! changed test. rpk is not available here; its forms are only checked for shape.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use chrono::{DateTime, Utc};
use logagg_core::db::progress::Counts;
use logagg_e2e::group::{parse_describe, GroupRow};
use logagg_e2e::{brokers, event, root, wait_for, Service, TestEnv};
use serde_json::{json, Value};

const TIMEOUT: Duration = Duration::from_secs(90);
/// Longest a single recipe may run (the console consumer alone waits 10 s for more records).
const RECIPE_TIMEOUT: Duration = Duration::from_secs(120);
const README: &str = "redpanda/README.md";
/// The names the README's recipes use, replaced by the test's own.
const README_TOPIC: &str = "events";
const README_GROUP: &str = "logagg";
const README_BROKERS: &str = "127.0.0.1:9092";
const README_TIME_MS: &str = "1795608000000";
const README_DATETIME: &str = "2026-11-25T12:00:00.000Z";
/// The event of the produce recipes.
const RECIPE_TOPIC: &str = "orders";
const RECIPE_EVENT_ID: &str = "0193a8f0-7c4e-7b2a-9d1e-3f5a6b7c8d90";

/// Every (recipe, tool) of the README that can run here, each exercised below. A recipe added
/// to the README without a test here fails `every_runnable_recipe_is_exercised`.
const EXERCISED: &[(&str, &str)] = &[
    ("create-topic", "kafka-cli"),
    ("produce", "kcat"),
    ("produce", "kafka-cli"),
    ("consume", "kcat"),
    ("consume", "kafka-cli"),
    ("describe-group", "kafka-cli"),
    ("end-offsets", "kafka-cli"),
    ("seek-earliest", "kafka-cli"),
    ("seek-timestamp", "kafka-cli"),
    ("offsets-for-time", "kafka-cli"),
    ("offsets-for-time", "kcat"),
    ("seek-offsets", "kafka-cli"),
];
const TOOLS: &[&str] = &["rpk", "kcat", "kafka-cli"];

// ---------------------------------------------------------------------------------------------
// Recipes: extraction from the README and localization to the test's topic and group.

#[derive(Debug, Clone)]
struct Recipe {
    name: String,
    tool: String,
    /// Line of the marker in the README.
    line: usize,
    body: String,
}

fn readme_recipes() -> Vec<Recipe> {
    let path = root().join(README);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let lines: Vec<&str> = text.lines().collect();
    let mut recipes = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(marker) = line.trim().strip_prefix("<!-- recipe:") else {
            let comment = line.trim_start().starts_with("<!--");
            assert!(
                !(comment && line.contains("recipe")),
                "{README}:{}: malformed recipe marker {line:?}",
                i + 1
            );
            continue;
        };
        let marker = marker
            .strip_suffix("-->")
            .unwrap_or_else(|| panic!("{README}:{}: recipe marker not closed", i + 1));
        let words: Vec<&str> = marker.split_whitespace().collect();
        let (name, tool) = match words.as_slice() {
            [name, tool] => (*name, tool.strip_prefix("tool=")),
            _ => (marker, None),
        };
        let tool = tool.unwrap_or_else(|| {
            panic!(
                "{README}:{}: expected `<!-- recipe: NAME tool=TOOL -->`",
                i + 1
            )
        });
        assert!(
            TOOLS.contains(&tool),
            "{README}:{}: unknown tool {tool:?}",
            i + 1
        );
        let mut next = i + 1;
        while lines.get(next).is_some_and(|l| l.trim().is_empty()) {
            next += 1;
        }
        assert_eq!(
            lines.get(next).map(|l| l.trim()),
            Some("```sh"),
            "{README}:{}: recipe {name} tool={tool} must be followed by a ```sh block",
            i + 1
        );
        let body: Vec<&str> = lines[next + 1..]
            .iter()
            .take_while(|l| l.trim() != "```")
            .copied()
            .collect();
        assert!(
            next + 1 + body.len() < lines.len(),
            "{README}:{}: the block of recipe {name} is not closed",
            i + 1
        );
        assert!(
            !body.is_empty(),
            "{README}:{}: recipe {name} tool={tool} is empty",
            i + 1
        );
        recipes.push(Recipe {
            name: name.to_owned(),
            tool: tool.to_owned(),
            line: i + 1,
            body: body.join("\n"),
        });
    }
    recipes
}

fn recipe(name: &str, tool: &str) -> Recipe {
    assert!(
        EXERCISED.contains(&(name, tool)),
        "add ({name:?}, {tool:?}) to EXERCISED"
    );
    let mut found: Vec<Recipe> = readme_recipes()
        .into_iter()
        .filter(|r| r.name == name && r.tool == tool)
        .collect();
    assert_eq!(
        found.len(),
        1,
        "{README} must hold exactly one recipe {name} tool={tool}"
    );
    found.remove(0)
}

/// Characters that make `events` part of a longer name (`events.x`, `/tmp/logagg-seek`).
fn name_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.' || b == b'/'
}

/// Replaces `word` where it stands alone as a name: not inside a longer name or path. `\n`
/// before it (inside a printf format) counts as a separator.
fn replace_word(text: &str, word: &str, with: &str) -> (String, usize) {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut replaced = 0;
    let mut i = 0;
    while let Some(found) = text[i..].find(word) {
        let start = i + found;
        let end = start + word.len();
        let escaped_newline = start >= 2 && &bytes[start - 2..start] == b"\\n";
        let before = start == 0 || !name_char(bytes[start - 1]) || escaped_newline;
        let after = end == bytes.len() || !name_char(bytes[end]);
        out.push_str(&text[i..start]);
        if before && after {
            out.push_str(with);
            replaced += 1;
        } else {
            out.push_str(word);
        }
        i = end;
    }
    out.push_str(&text[i..]);
    (out, replaced)
}

/// What a recipe is pointed at.
struct Target<'a> {
    topic: &'a str,
    group: &'a str,
    /// Replaces /tmp/ (the recipes' scratch files).
    dir: &'a Path,
    /// Replaces the README's example time.
    time: Option<DateTime<Utc>>,
}

/// The recipe's commands aimed at `target`; panics if anything still names the README's own
/// topic or group (the test must never touch the real `events` / `logagg`).
fn localize(recipe: &Recipe, target: &Target) -> String {
    let (text, _) = replace_word(&recipe.body, README_TOPIC, target.topic);
    let (text, _) = replace_word(&text, README_GROUP, target.group);
    let dir = target.dir.display().to_string();
    assert!(
        !dir.contains(char::is_whitespace),
        "scratch dir with whitespace: {dir}"
    );
    let mut text = text
        .replace("/tmp/", &format!("{dir}/"))
        .replace(README_BROKERS, &brokers());
    if let Some(time) = target.time {
        text = text
            .replace(README_TIME_MS, &time.timestamp_millis().to_string())
            .replace(
                README_DATETIME,
                &time.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
            );
    }
    for word in [README_TOPIC, README_GROUP] {
        let (_, left) = replace_word(&text, word, "");
        assert_eq!(
            left, 0,
            "recipe {} tool={} still names {word:?} after localization:\n{text}",
            recipe.name, recipe.tool
        );
    }
    assert!(
        text.contains(target.topic) || text.contains(target.group),
        "recipe {} names neither topic nor group",
        recipe.name
    );
    text
}

struct Ran {
    success: bool,
    stdout: String,
    stderr: String,
}

impl std::fmt::Display for Ran {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "success={}\n--- stdout\n{}--- stderr\n{}",
            self.success, self.stdout, self.stderr
        )
    }
}

/// Runs shell text with bash -euo pipefail from the workspace root, with a deadline.
async fn run_shell(text: &str) -> Ran {
    let child = tokio::process::Command::new("bash")
        .arg("-c")
        .arg(format!("set -euo pipefail\n{text}"))
        .current_dir(root())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("bash");
    let output = tokio::time::timeout(RECIPE_TIMEOUT, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("timed out after {RECIPE_TIMEOUT:?} running:\n{text}"))
        .expect("wait for bash");
    Ran {
        success: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Runs a README recipe against `target` and asserts it exited 0.
async fn run_recipe(name: &str, tool: &str, target: &Target<'_>) -> Ran {
    let recipe = recipe(name, tool);
    let text = localize(&recipe, target);
    let ran = run_shell(&text).await;
    assert!(
        ran.success,
        "recipe {name} tool={tool} ({README}:{}) failed:\n{text}\n{ran}",
        recipe.line
    );
    ran
}

// ---------------------------------------------------------------------------------------------
// Parsing the tools' output.

/// `partition -> NEW-OFFSET` of a `consumer-groups --reset-offsets` run.
fn parse_reset(output: &str, group: &str, topic: &str) -> BTreeMap<i32, i64> {
    let mut in_table = false;
    let mut out = BTreeMap::new();
    for line in output.lines() {
        let cells: Vec<&str> = line.split_whitespace().collect();
        if cells == ["GROUP", "TOPIC", "PARTITION", "NEW-OFFSET"] {
            in_table = true;
        } else if in_table && cells.len() == 4 && cells[0] == group && cells[1] == topic {
            out.insert(
                cells[2].parse().expect("partition"),
                cells[3].parse().expect("offset"),
            );
        }
    }
    out
}

/// `partition -> offset` of GetOffsetShell output (`topic:partition:offset` lines).
fn parse_get_offsets(output: &str, topic: &str) -> BTreeMap<i32, i64> {
    output
        .lines()
        .filter_map(|l| l.trim().strip_prefix(&format!("{topic}:")))
        .map(|rest| {
            let (partition, offset) = rest.split_once(':').expect("partition:offset");
            (
                partition.parse().expect("partition"),
                offset.parse().expect("offset"),
            )
        })
        .collect()
}

/// `partition -> offset` of `kcat -Q` output (`topic [partition] offset N` lines).
fn parse_kcat_query(output: &str, topic: &str) -> BTreeMap<i32, i64> {
    output
        .lines()
        .filter_map(|l| l.trim().strip_prefix(&format!("{topic} [")))
        .map(|rest| {
            let (partition, rest) = rest.split_once(']').expect("partition]");
            let offset = rest.trim().strip_prefix("offset ").expect("offset N");
            (
                partition.parse().expect("partition"),
                offset.trim().parse().expect("offset"),
            )
        })
        .collect()
}

/// A consumed record as the consume recipes show it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Shown {
    partition: i32,
    offset: i64,
    key: String,
    value: String,
}

/// kcat's `partition=%p offset=%o key=%k value=%s` lines.
fn parse_kcat_consume(output: &str) -> Vec<Shown> {
    let mut out: Vec<Shown> = output
        .lines()
        .filter(|l| l.starts_with("partition="))
        .map(|l| {
            let rest = l.strip_prefix("partition=").unwrap();
            let (partition, rest) = rest.split_once(" offset=").expect("offset=");
            let (offset, rest) = rest.split_once(" key=").expect("key=");
            let (key, value) = rest.split_once(" value=").expect("value=");
            Shown {
                partition: partition.parse().expect("partition"),
                offset: offset.parse().expect("offset"),
                key: key.to_owned(),
                value: value.to_owned(),
            }
        })
        .collect();
    out.sort();
    out
}

/// The console consumer's `Partition:P<TAB>Offset:O<TAB>key<TAB>value` lines.
fn parse_console_consume(output: &str) -> Vec<Shown> {
    let mut out: Vec<Shown> = output
        .lines()
        .filter(|l| l.starts_with("Partition:"))
        .map(|l| {
            let cells: Vec<&str> = l.splitn(4, '\t').collect();
            assert_eq!(cells.len(), 4, "unexpected console consumer line {l:?}");
            Shown {
                partition: cells[0]
                    .strip_prefix("Partition:")
                    .unwrap()
                    .parse()
                    .expect("partition"),
                offset: cells[1]
                    .strip_prefix("Offset:")
                    .expect("Offset:")
                    .parse()
                    .expect("offset"),
                key: cells[2].to_owned(),
                value: cells[3].to_owned(),
            }
        })
        .collect();
    out.sort();
    out
}

// ---------------------------------------------------------------------------------------------
// Helpers around the test environment.

fn scratch_dir(env: &TestEnv) -> PathBuf {
    let dir = root().join("target").join("e2e-tmp").join(&env.name);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

fn target<'a>(env: &'a TestEnv, dir: &'a Path) -> Target<'a> {
    Target {
        topic: &env.topic,
        group: &env.group,
        dir,
        time: None,
    }
}

/// `partition -> high watermark` of the test's topic.
async fn end_offsets(env: &TestEnv) -> BTreeMap<i32, i64> {
    let producer = env.producer();
    tokio::task::spawn_blocking(move || {
        producer
            .watermarks(Duration::from_secs(10))
            .expect("watermarks")
    })
    .await
    .expect("join")
    .into_iter()
    .map(|(partition, _, high)| (partition, high))
    .collect()
}

/// Runs the describe-group recipe until `done` holds for its rows (the consumer commits its
/// Kafka offsets right after each PostgreSQL transaction, so this converges quickly).
async fn describe_until(
    env: &TestEnv,
    dir: &Path,
    what: &str,
    done: impl Fn(&BTreeMap<i32, GroupRow>) -> bool,
) -> BTreeMap<i32, GroupRow> {
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        let ran = run_recipe("describe-group", "kafka-cli", &target(env, dir)).await;
        let rows = parse_describe(&ran.stdout, &env.group, &env.topic);
        if done(&rows) {
            return rows;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}; last describe:\n{ran}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Every partition's committed offset is its log end (lag 0), for all `partitions`.
fn caught_up(rows: &BTreeMap<i32, GroupRow>, ends: &BTreeMap<i32, i64>) -> bool {
    rows.len() == ends.len()
        && ends.iter().all(|(p, end)| {
            rows.get(p).is_some_and(|r| {
                // A partition that never had a record may have no committed offset.
                (r.current == Some(*end) && r.lag == Some(0)) || (*end == 0 && r.current.is_none())
            })
        })
}

async fn stats(api: &Service) -> Value {
    let (status, body) = api.get("/stats").await;
    assert_eq!(status, 200, "/stats: {body}");
    body
}

fn assert_stats_match(stats: &Value, counts: &Counts) {
    for (field, value) in [
        ("received", counts.received),
        ("unique_processed", counts.unique_processed),
        ("duplicate_dropped", counts.duplicate_dropped),
        ("invalid", counts.invalid),
        ("replayed", counts.replayed),
    ] {
        assert_eq!(
            stats[field],
            json!(value),
            "/stats {field} vs the database: {stats}"
        );
    }
}

/// Stops a consumer with SIGTERM and checks it exited 0.
async fn stop(consumer: Service) {
    let log = consumer.log.clone();
    let status = consumer.terminate().await;
    assert!(
        status.success(),
        "consumer exited with {status} after SIGTERM (log: {})",
        log.display()
    );
}

// ---------------------------------------------------------------------------------------------
// The tests.

#[test]
fn every_runnable_recipe_is_exercised() {
    let recipes = readme_recipes();
    let mut seen = BTreeSet::new();
    for r in &recipes {
        assert!(
            seen.insert((r.name.clone(), r.tool.clone())),
            "{README}:{}: duplicate recipe {} tool={}",
            r.line,
            r.name,
            r.tool
        );
    }
    let runnable: BTreeSet<(String, String)> = seen
        .iter()
        .filter(|(_, tool)| tool != "rpk")
        .cloned()
        .collect();
    let exercised: BTreeSet<(String, String)> = EXERCISED
        .iter()
        .map(|(n, t)| (n.to_string(), t.to_string()))
        .collect();
    assert_eq!(
        runnable, exercised,
        "kcat / Kafka CLI recipes in {README} vs the ones this file exercises"
    );
    // Each operation has its rpk command and a kcat or Kafka CLI equivalent.
    let names: BTreeSet<&str> = recipes.iter().map(|r| r.name.as_str()).collect();
    for name in names {
        let tools: BTreeSet<&str> = recipes
            .iter()
            .filter(|r| r.name == name)
            .map(|r| r.tool.as_str())
            .collect();
        let runnable_here = tools.contains("kcat") || tools.contains("kafka-cli");
        assert!(runnable_here, "recipe {name} has no kcat / Kafka CLI form");
        // offsets-for-time is a look-up without an rpk equivalent (rpk seeks directly by time).
        assert!(
            tools.contains("rpk") || name == "offsets-for-time",
            "recipe {name} has no rpk form: {tools:?}"
        );
    }
    for r in recipes.iter().filter(|r| r.tool == "rpk") {
        assert!(
            r.body.contains("rpk "),
            "{README}:{}: rpk recipe without rpk",
            r.line
        );
        assert!(
            r.body.contains(&format!("-X brokers={README_BROKERS}")),
            "{README}:{}: rpk recipe without -X brokers=",
            r.line
        );
    }
    for r in recipes.iter().filter(|r| r.tool == "kcat") {
        assert!(
            r.body.contains("kcat "),
            "{README}:{}: kcat recipe without kcat",
            r.line
        );
    }
    for r in recipes.iter().filter(|r| r.tool == "kafka-cli") {
        assert!(
            r.body.contains("scripts/kafka-tool.sh "),
            "{README}:{}: Kafka CLI recipe without scripts/kafka-tool.sh",
            r.line
        );
    }
}

#[test]
fn localization_replaces_names_not_substrings() {
    let r = Recipe {
        name: "x".into(),
        tool: "kafka-cli".into(),
        line: 0,
        body: "printf 'events,0,0\\nevents,3,2\\n' > /tmp/logagg-seek.csv\nkcat -t events:0:1795608000000 -G logagg events.other --group logagg".into(),
    };
    let dir = Path::new("/scratch");
    let t = Target {
        topic: "e2e.t",
        group: "g.t",
        dir,
        time: DateTime::from_timestamp_millis(1_700_000_000_123),
    };
    assert_eq!(
        localize(&r, &t),
        "printf 'e2e.t,0,0\\ne2e.t,3,2\\n' > /scratch/logagg-seek.csv\nkcat -t e2e.t:0:1700000000123 -G g.t events.other --group g.t"
    );
}

/// create-topic (Kafka CLI): creates a topic with the README's partitions and configuration,
/// and is idempotent.
#[tokio::test(flavor = "multi_thread")]
async fn create_topic_recipe() {
    let env = TestEnv::new("opscreate", 1).await;
    let dir = scratch_dir(&env);
    let topic = format!("{}.created", env.topic);
    let t = Target {
        topic: &topic,
        group: &env.group,
        dir: &dir,
        time: None,
    };
    run_recipe("create-topic", "kafka-cli", &t).await;
    run_recipe("create-topic", "kafka-cli", &t).await; // --if-not-exists: a second run is fine
    let described = run_shell(&format!(
        "scripts/kafka-tool.sh topics --bootstrap-server {} --describe --topic {topic}",
        brokers()
    ))
    .await;
    assert!(described.success, "{described}");
    let summary = described
        .stdout
        .lines()
        .find(|l| l.contains("PartitionCount:"))
        .unwrap_or_else(|| panic!("{described}"));
    assert!(summary.contains("PartitionCount: 6"), "{summary}");
    assert!(summary.contains("ReplicationFactor: 1"), "{summary}");
    assert!(summary.contains("cleanup.policy=delete"), "{summary}");
    assert!(summary.contains("retention.ms=604800000"), "{summary}");
    let deleted = run_shell(&format!(
        "scripts/kafka-tool.sh topics --bootstrap-server {} --delete --topic {topic}",
        brokers()
    ))
    .await;
    assert!(deleted.success, "{deleted}");
}

/// produce (kcat, Kafka CLI), consume (kcat, Kafka CLI), end-offsets and describe-group:
/// the recipes' event lands on the partition logagg's own producer uses for its key, is stored
/// once (the second copy is a duplicate), and the tools show the group's offsets and lag as
/// /stats does.
#[tokio::test(flavor = "multi_thread")]
async fn produce_consume_and_describe_recipes() {
    let env = TestEnv::new("opsrecipes", 6).await;
    let dir = scratch_dir(&env);
    let t = target(&env, &dir);
    let api = env.spawn_api().await;

    // The same event through kcat and through the console producer, then one of logagg's
    // producer with the same key, for reference.
    run_recipe("produce", "kcat", &t).await;
    run_recipe("produce", "kafka-cli", &t).await;
    let reference = env
        .producer()
        .publish(&[event(RECIPE_TOPIC, "e2e-reference")])
        .await
        .expect("publish");
    let p = reference[0].partition;
    assert_eq!(reference[0].offset, 2, "kcat and the console producer put key {RECIPE_TOPIC} on another partition than logagg's producer (murmur2)");

    // Both consume recipes show key, partition and offset of the three records.
    let kcat = parse_kcat_consume(&run_recipe("consume", "kcat", &t).await.stdout);
    let console_ran = run_recipe("consume", "kafka-cli", &t).await;
    let console = parse_console_consume(&console_ran.stdout);
    assert_eq!(kcat.len(), 3, "{kcat:?}");
    assert_eq!(kcat, console, "kcat and the console consumer disagree");
    for (offset, shown) in kcat.iter().enumerate() {
        assert_eq!(
            (shown.partition, shown.offset, shown.key.as_str()),
            (p, offset as i64, RECIPE_TOPIC)
        );
        let value: Value = serde_json::from_str(&shown.value).expect("the value is the event JSON");
        let expected_id = if offset < 2 {
            RECIPE_EVENT_ID
        } else {
            "e2e-reference"
        };
        assert_eq!(value["event_id"], expected_id, "{value}");
    }

    // end-offsets: the log end of every partition, as the broker reports its watermarks.
    let ends = parse_get_offsets(
        &run_recipe("end-offsets", "kafka-cli", &t).await.stdout,
        &env.topic,
    );
    assert_eq!(ends, end_offsets(&env).await);
    assert_eq!(ends.values().sum::<i64>(), 3);
    assert_eq!(ends[&p], 3);

    // The consumer stores the event once and counts the second copy as a duplicate.
    let consumer = env.spawn_consumer("c1").await;
    let counts = env
        .wait_counts(TIMEOUT, "3 records received", |c| c.received == 3)
        .await;
    assert_eq!(
        (
            counts.unique_processed,
            counts.duplicate_dropped,
            counts.invalid,
            counts.replayed
        ),
        (2, 1, 0, 0)
    );
    assert_eq!(env.rows().await, 2);
    let (status, stored) = api
        .get(&format!("/events/{RECIPE_TOPIC}/{RECIPE_EVENT_ID}"))
        .await;
    assert_eq!(status, 200, "{stored}");
    assert_eq!(stored["source"], "checkout");
    assert_eq!(stored["timestamp"], "2026-11-25T12:00:00.000000Z");

    // describe-group: committed offset = log end, lag 0, every partition owned by the member.
    let rows = describe_until(
        &env,
        &dir,
        "the group to commit up to the log end",
        |rows| caught_up(rows, &ends),
    )
    .await;
    assert_eq!(rows.len(), 6, "{rows:?}");
    assert!(
        rows.values().all(|r| r.consumer_id.is_some()),
        "a partition without an owner: {rows:?}"
    );
    let owners: BTreeSet<&String> = rows
        .values()
        .filter_map(|r| r.consumer_id.as_ref())
        .collect();
    assert_eq!(
        owners.len(),
        1,
        "one consumer owns all partitions: {rows:?}"
    );
    let s = stats(&api).await;
    assert_eq!(s["consumer_lag"], 0, "{s}");
    assert_stats_match(&s, &env.counts().await);

    // With the consumer stopped, new records are lag in the tool and in /stats alike.
    stop(consumer).await;
    let more: Vec<_> = (0..4)
        .map(|i| event(RECIPE_TOPIC, &format!("e2e-more-{i}")))
        .collect();
    env.producer().publish(&more).await.expect("publish");
    let rows = describe_until(
        &env,
        &dir,
        &format!("a lag of 4 on partition {p}"),
        |rows| rows.get(&p).is_some_and(|r| r.lag == Some(4)),
    )
    .await;
    assert_eq!(rows[&p].current, Some(3));
    assert_eq!(rows[&p].log_end, Some(7));
    assert!(
        rows.values().all(|r| r.consumer_id.is_none()),
        "no member after SIGTERM: {rows:?}"
    );
    assert_eq!(rows.values().filter_map(|r| r.lag).sum::<i64>(), 4);
    let s = stats(&api).await;
    assert_eq!(s["consumer_lag"], 4, "{s}");
    assert_eq!(s["lag_per_partition"][p.to_string()], 4, "{s}");

    // Started again, it catches up: lag 0 in both, 4 more rows.
    let _consumer = env.spawn_consumer("c2").await;
    let ends = end_offsets(&env).await;
    describe_until(&env, &dir, "lag 0 after the restart", |rows| {
        caught_up(rows, &ends)
    })
    .await;
    let counts = env
        .wait_counts(TIMEOUT, "7 records received", |c| c.received == 7)
        .await;
    assert_eq!(
        (
            counts.unique_processed,
            counts.duplicate_dropped,
            counts.replayed
        ),
        (6, 1, 0)
    );
    assert_eq!(env.rows().await, 6);
    let s = stats(&api).await;
    assert_eq!(s["consumer_lag"], 0, "{s}");
    assert_stats_match(&s, &counts);
}

/// The seek recipes, each while the consumers are stopped, followed by a restart: the group's
/// offsets move where the README says, the consumer re-reads exactly those records (counted as
/// `replayed`), restores rows that were lost, and leaves the fresh counters alone.
#[tokio::test(flavor = "multi_thread")]
async fn seek_recipes_replay_through_the_consumer() {
    let env = TestEnv::new("opsseek", 6).await;
    let dir = scratch_dir(&env);
    let api = env.spawn_api().await;
    let consumer = env.spawn_consumer("c1").await;

    // Batch A: 60 events over 60 logical topics, so that every partition holds several.
    let batch_a: Vec<_> = (0..60)
        .map(|i| event(&format!("seek.{i}"), &format!("a-{i}")))
        .collect();
    let acks_a = env.producer().publish(&batch_a).await.expect("publish A");
    let mut per_partition_a: BTreeMap<i32, i64> = BTreeMap::new();
    for ack in &acks_a {
        *per_partition_a.entry(ack.partition).or_default() += 1;
    }
    assert!(
        (0..6).all(|p| per_partition_a.get(&p).copied().unwrap_or(0) >= 3),
        "the test needs at least 3 records in every partition: {per_partition_a:?}"
    );
    env.wait_counts(TIMEOUT, "batch A stored", |c| c.received == 60)
        .await;
    let ends = end_offsets(&env).await;
    describe_until(&env, &dir, "batch A committed", |rows| {
        caught_up(rows, &ends)
    })
    .await;

    // While a member is active, the Kafka CLI refuses to reset: it says so and exits 0 (!),
    // and nothing moves. (The README tells operators to stop the consumers first.)
    let recipe_earliest = recipe("seek-earliest", "kafka-cli");
    let refused = run_shell(&localize(&recipe_earliest, &target(&env, &dir))).await;
    assert!(
        format!("{}{}", refused.stdout, refused.stderr).contains("can only be reset if the group"),
        "expected the tool to refuse while the consumer runs:\n{refused}"
    );
    assert!(
        parse_reset(&refused.stdout, &env.group, &env.topic).is_empty(),
        "{refused}"
    );
    describe_until(
        &env,
        &dir,
        "offsets unchanged by the refused reset",
        |rows| caught_up(rows, &ends),
    )
    .await;

    // --- seek-earliest, after losing 10 rows: everything is re-read and the rows come back.
    stop(consumer).await;
    let lost = env.execute("DELETE FROM events WHERE event_id IN ('a-0','a-1','a-2','a-3','a-4','a-5','a-6','a-7','a-8','a-9')").await;
    assert_eq!(lost, 10);
    let reset = parse_reset(
        &run_recipe("seek-earliest", "kafka-cli", &target(&env, &dir))
            .await
            .stdout,
        &env.group,
        &env.topic,
    );
    assert_eq!(
        reset,
        (0..6).map(|p| (p, 0)).collect::<BTreeMap<i32, i64>>(),
        "seek-earliest output"
    );
    let rows = describe_until(&env, &dir, "the group at offset 0", |rows| rows.len() == 6).await;
    for (p, row) in &rows {
        assert_eq!(
            (row.current, row.lag),
            (Some(0), Some(ends[p])),
            "partition {p}: {row:?}"
        );
    }
    // /stats counts records not processed yet, not the replay backlog (see the README).
    let s = stats(&api).await;
    assert_eq!(s["consumer_lag"], 0, "{s}");
    let consumer = env.spawn_consumer("c2").await;
    let counts = env
        .wait_counts(TIMEOUT, "60 records replayed", |c| c.replayed >= 60)
        .await;
    assert_eq!(
        (
            counts.received,
            counts.unique_processed,
            counts.duplicate_dropped,
            counts.invalid,
            counts.replayed
        ),
        (60, 60, 0, 0, 60),
        "a replay counts as replayed only"
    );
    assert_eq!(env.rows().await, 60, "the 10 lost rows are restored");
    describe_until(&env, &dir, "caught up after the replay", |rows| {
        caught_up(rows, &ends)
    })
    .await;
    assert_stats_match(&stats(&api).await, &counts);

    // --- offsets-for-time and seek-timestamp: batch B is produced after time T; seeking the
    // group to T re-reads exactly batch B.
    let t_ms = Utc::now().timestamp_millis() + 1;
    wait_for(Duration::from_secs(5), "the clock to pass T", || async {
        (Utc::now().timestamp_millis() > t_ms).then_some(())
    })
    .await;
    let time = DateTime::from_timestamp_millis(t_ms).expect("time");
    // Only topics of partitions 0..=4: partition 5 gets no record after T (the "none" case).
    let batch_b: Vec<_> = (0..60)
        .filter(|&i| acks_a[i].partition != 5)
        .take(30)
        .map(|i| event(&format!("seek.{i}"), &format!("b-{i}")))
        .collect();
    assert_eq!(batch_b.len(), 30);
    let acks_b = env.producer().publish(&batch_b).await.expect("publish B");
    let mut first_b: BTreeMap<i32, i64> = BTreeMap::new();
    for ack in &acks_b {
        let first = first_b.entry(ack.partition).or_insert(ack.offset);
        *first = (*first).min(ack.offset);
    }
    let counts = env
        .wait_counts(TIMEOUT, "batch B stored", |c| c.received == 90)
        .await;
    assert_eq!((counts.unique_processed, counts.replayed), (90, 60));
    let ends = end_offsets(&env).await;
    describe_until(&env, &dir, "batch B committed", |rows| {
        caught_up(rows, &ends)
    })
    .await;

    let t = Target {
        time: Some(time),
        ..target(&env, &dir)
    };
    for (p, first) in &first_b {
        assert_eq!(
            *first, per_partition_a[p],
            "B follows A directly in partition {p}"
        );
    }
    let looked_up = parse_get_offsets(
        &run_recipe("offsets-for-time", "kafka-cli", &t).await.stdout,
        &env.topic,
    );
    assert_eq!(
        looked_up, first_b,
        "Kafka CLI: first offset at or after T, only for partitions that have one"
    );
    let kcat_ran = run_recipe("offsets-for-time", "kcat", &t).await;
    let kcat_looked_up = parse_kcat_query(&kcat_ran.stdout, &env.topic);
    let expected_kcat: BTreeMap<i32, i64> = (0..6)
        .map(|p| (p, first_b.get(&p).copied().unwrap_or(-1)))
        .collect();
    assert_eq!(
        kcat_looked_up, expected_kcat,
        "kcat -Q: first offset at or after T, -1 when none\n{kcat_ran}"
    );

    stop(consumer).await;
    let reset = parse_reset(
        &run_recipe("seek-timestamp", "kafka-cli", &t).await.stdout,
        &env.group,
        &env.topic,
    );
    let expected: BTreeMap<i32, i64> = (0..6)
        .map(|p| (p, first_b.get(&p).copied().unwrap_or(ends[&p])))
        .collect();
    assert_eq!(
        reset, expected,
        "seek-timestamp: each partition to its first record at or after T, else to its end"
    );
    let consumer = env.spawn_consumer("c3").await;
    let counts = env
        .wait_counts(TIMEOUT, "batch B replayed", |c| c.replayed >= 90)
        .await;
    assert_eq!(
        (
            counts.received,
            counts.unique_processed,
            counts.duplicate_dropped,
            counts.replayed
        ),
        (90, 90, 0, 90),
        "exactly batch B is re-read"
    );
    describe_until(&env, &dir, "caught up after the time seek", |rows| {
        caught_up(rows, &ends)
    })
    .await;

    // --- seek-offsets: the partitions listed in the recipe's file move, the others stay.
    stop(consumer).await;
    let ran = run_recipe("seek-offsets", "kafka-cli", &target(&env, &dir)).await;
    let file = std::fs::read_dir(&dir)
        .expect("scratch dir")
        .map(|e| e.expect("entry").path())
        .find(|p| p.extension().is_some_and(|e| e == "csv"))
        .expect("the recipe writes its CSV file into the scratch dir");
    let wanted: BTreeMap<i32, i64> = std::fs::read_to_string(&file)
        .expect("csv")
        .lines()
        .map(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            assert_eq!(cells[0], env.topic, "{l}");
            (
                cells[1].parse().expect("partition"),
                cells[2].parse().expect("offset"),
            )
        })
        .collect();
    assert!(wanted.len() >= 2, "{wanted:?}");
    let reset = parse_reset(&ran.stdout, &env.group, &env.topic);
    assert_eq!(reset, wanted, "seek-offsets output\n{ran}");
    let rows = describe_until(&env, &dir, "the group at the file's offsets", |rows| {
        rows.len() == 6
    })
    .await;
    for (p, row) in &rows {
        assert_eq!(
            row.current,
            Some(wanted.get(p).copied().unwrap_or(ends[p])),
            "partition {p}: {rows:?}"
        );
    }
    let expected_replays: i64 = wanted.iter().map(|(p, offset)| ends[p] - offset).sum();
    assert!(expected_replays > 0);
    let _consumer = env.spawn_consumer("c4").await;
    let counts = env
        .wait_counts(TIMEOUT, "the listed partitions replayed", |c| {
            c.replayed >= 90 + expected_replays
        })
        .await;
    assert_eq!(
        (
            counts.received,
            counts.unique_processed,
            counts.duplicate_dropped,
            counts.invalid,
            counts.replayed
        ),
        (90, 90, 0, 0, 90 + expected_replays)
    );
    describe_until(&env, &dir, "caught up after the offset seek", |rows| {
        caught_up(rows, &ends)
    })
    .await;
    assert_eq!(env.rows().await, 90);
    let s = stats(&api).await;
    assert_stats_match(&s, &counts);
    assert_eq!(s["consumer_lag"], 0, "{s}");
}
