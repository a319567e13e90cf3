//! The operator recipes of redpanda/README.md: each `<!-- recipe: NAME tool=TOOL -->` marker
//! followed by a ```sh block is a [`Recipe`]; [`localize`] aims one at a test's own topic,
//! group, scratch directory, broker and time (the README's `events`, `logagg`, /tmp/ and
//! example times substituted), refusing text that would still touch the real ones.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::env::TestEnv;
use crate::process::{run_shell, Ran};
use crate::services::{brokers, root};
use crate::tools::{self, parse_describe, GroupRow};

pub const README: &str = "redpanda/README.md";
/// The names the README's recipes use, replaced by the test's own.
pub const README_TOPIC: &str = "events";
pub const README_GROUP: &str = "logagg";
pub const README_BROKERS: &str = "127.0.0.1:9092";
const README_TIME_MS: &str = "1795608000000";
const README_DATETIME: &str = "2026-11-25T12:00:00.000Z";
/// The tools a recipe may be written for.
pub const TOOLS: &[&str] = &["rpk", "kcat", "kafka-cli"];
/// Longest a single recipe may run (the console consumer alone waits 10 s for more records).
pub const RECIPE_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Debug, Clone)]
pub struct Recipe {
    pub name: String,
    pub tool: String,
    /// Line of the marker in the README.
    pub line: usize,
    pub body: String,
}

/// Every recipe of the README, in order.
pub fn readme_recipes() -> Vec<Recipe> {
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

/// The one recipe `name` for `tool`.
pub fn recipe(name: &str, tool: &str) -> Recipe {
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
pub fn replace_word(text: &str, word: &str, with: &str) -> (String, usize) {
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
pub struct Target<'a> {
    pub topic: &'a str,
    pub group: &'a str,
    /// Replaces /tmp/ (the recipes' scratch files).
    pub dir: &'a Path,
    /// Replaces the README's example time.
    pub time: Option<DateTime<Utc>>,
}

/// The recipe's commands aimed at `target`; panics if anything still names the README's own
/// topic or group (the test must never touch the real `events` / `logagg`).
pub fn localize(recipe: &Recipe, target: &Target) -> String {
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

/// Runs a README recipe against `target` and asserts it exited 0.
pub async fn run_recipe(name: &str, tool: &str, target: &Target<'_>) -> Ran {
    let recipe = recipe(name, tool);
    let text = localize(&recipe, target);
    let ran = run_shell(&text, RECIPE_TIMEOUT).await;
    assert!(
        ran.success,
        "recipe {name} tool={tool} ({README}:{}) failed:\n{text}\n{ran}",
        recipe.line
    );
    ran
}

/// A scratch directory for a test's recipe files (their /tmp/), under target/e2e-tmp.
pub fn scratch_dir(name: &str) -> PathBuf {
    let dir = root().join("target").join("e2e-tmp").join(name);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

impl<'a> Target<'a> {
    /// The test's own topic and group, files in `dir`, the README's example time kept.
    pub fn of(env: &'a TestEnv, dir: &'a Path) -> Self {
        Self {
            topic: &env.topic,
            group: &env.group,
            dir,
            time: None,
        }
    }
}

/// Runs the describe-group recipe until `done` holds for its rows.
pub async fn describe_until(
    env: &TestEnv,
    dir: &Path,
    timeout: Duration,
    what: &str,
    done: impl Fn(&BTreeMap<i32, GroupRow>) -> bool,
) -> BTreeMap<i32, GroupRow> {
    tools::describe_until(
        timeout,
        what,
        || async {
            let ran = run_recipe("describe-group", "kafka-cli", &Target::of(env, dir)).await;
            (
                parse_describe(&ran.stdout, &env.group, &env.topic),
                ran.to_string(),
            )
        },
        done,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
