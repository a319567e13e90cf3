//! Issue 17, the first hour, checked on the documentation and the Makefile alone (no service,
//! so `make check` runs it): every documented Kafka producing command uses the Java clients'
//! partitioner, the gaps a newcomer hit are filled where they look first, and one Makefile
//! lists each of its targets in `make help`.

use crate::first_hour;

use first_hour::{documentation, murmur2, producing_commands};
use logagg_testkit::root;

#[test]
fn murmur2_matches_apache_kafka() {
    // The vectors of Apache Kafka's UtilsTest.testMurmur2.
    for (key, hash) in [
        ("21", -973_932_308),
        ("foobar", -790_332_482),
        ("a-little-bit-long-string", -985_981_536),
        ("a-little-bit-longer-string", -1_486_304_829),
        (
            "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
            -58_897_971,
        ),
        ("abc", 479_470_107),
    ] {
        assert_eq!(murmur2(key.as_bytes()), hash, "{key}");
    }
}

#[test]
fn every_documented_kcat_producer_uses_the_java_partitioner() {
    let commands = producing_commands(&documentation(&root()));
    for file in ["README.md", "redpanda/README.md"] {
        assert!(
            commands
                .iter()
                .any(|c| c.tool == "kcat" && c.place.starts_with(&format!("{file}:"))),
            "{file} shows a kcat producing command (found {commands:#?})"
        );
    }
    let wrong: Vec<_> = commands
        .iter()
        .filter(|c| c.tool == "kcat" && !c.text.contains("-X partitioner=murmur2_random"))
        .collect();
    assert!(
        wrong.is_empty(),
        "kcat hashes keys with CRC32 unless told `-X partitioner=murmur2_random`, so these \
         put a topic on another partition than the API does: {wrong:#?}"
    );
}

/// `(file, phrase)`: each gap the first hour found, and the words that now fill it.
const FILLED_GAPS: &[(&str, &str)] = &[
    ("README.md", "target/release/"),
    ("README.md", "make install"),
    ("README.md", "make check"),
    ("README.md", "row ids"),
    ("README.md", "default 100"),
    ("README.md", "at most 1000"),
    ("README.md", "newest first (highest id first)"),
    ("README.md", "## Event schema"),
    ("README.md", "without a key"),
    ("README.md", "before the consumer has its partitions"),
    ("README.md", "-X partitioner=murmur2_random"),
    ("docs/GUARANTEES.md", "unreachable at start"),
    ("docs/CONFIGURATION.md", ".env"),
    ("docs/OPERATIONS.md", "without colour codes"),
];

#[test]
fn the_gaps_of_the_first_hour_are_filled_where_a_newcomer_looks() {
    let docs = documentation(&root());
    let missing: Vec<_> = FILLED_GAPS
        .iter()
        .filter(|(file, phrase)| {
            let text = &docs
                .iter()
                .find(|(name, _)| name == file)
                .unwrap_or_else(|| panic!("{file} exists"))
                .1;
            !text.contains(phrase)
        })
        .collect();
    assert!(missing.is_empty(), "not documented: {missing:?}");
}

#[test]
fn one_makefile_whose_help_lists_every_target_once() {
    let root = root();
    let extra: Vec<_> = std::fs::read_dir(&root)
        .expect("root")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("Makefile") && name != "Makefile")
        .collect();
    assert!(extra.is_empty(), "one Makefile, found also {extra:?}");
    let makefile = std::fs::read_to_string(root.join("Makefile")).expect("Makefile");
    assert!(
        !makefile.contains("\ninclude "),
        "the Makefile includes nothing"
    );
    let targets: Vec<&str> = makefile
        .lines()
        .filter_map(|l| l.split_once(':').map(|(t, _)| t))
        .filter(|t| !t.is_empty() && t.chars().all(|c| c.is_ascii_lowercase() || c == '-'))
        .collect();
    for needed in [
        "help", "check", "test", "run", "up", "down", "install", "bench",
    ] {
        assert!(targets.contains(&needed), "target {needed} in {targets:?}");
    }
    let output = std::process::Command::new("make")
        .args(["--no-print-directory", "-C"])
        .arg(&root)
        .arg("help")
        .output()
        .expect("run make help");
    assert!(output.status.success(), "{output:?}");
    let help = String::from_utf8_lossy(&output.stdout);
    for target in &targets {
        let lines = help
            .lines()
            .filter(|l| l.split_whitespace().nth(1) == Some(target))
            .count();
        assert_eq!(lines, 1, "`make help` has one line for {target}:\n{help}");
    }
    assert_eq!(help.lines().count(), targets.len(), "{help}");
}
