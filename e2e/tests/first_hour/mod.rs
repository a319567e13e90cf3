//! Shared by the first_hour_* test files: the documented Kafka producing commands, extracted
//! from the Markdown a newcomer reads, and the Java clients' murmur2 partitioner.

#![allow(dead_code)] // each test file uses its own part

use std::path::Path;

/// The Markdown files whose commands a newcomer copies: README.md, redpanda/README.md, docs/.
pub fn documentation(root: &Path) -> Vec<(String, String)> {
    let mut files = vec![
        root.join("README.md"),
        root.join("redpanda").join("README.md"),
    ];
    let mut docs: Vec<_> = std::fs::read_dir(root.join("docs"))
        .expect("docs/")
        .map(|entry| entry.expect("docs entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    files.extend(docs);
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let name = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .display()
                .to_string();
            (name, text)
        })
        .collect()
}

/// A command that produces to Kafka, where the docs show it.
#[derive(Debug, Clone)]
pub struct ProducingCommand {
    pub place: String,
    /// The whole command as documented (continuation lines joined).
    pub text: String,
    /// `kcat`, `rpk` or `kafka-cli`.
    pub tool: &'static str,
}

impl ProducingCommand {
    /// The producing command alone: what follows the last `|` that pipes input into it.
    pub fn producer_part(&self) -> String {
        let start = [
            "kcat ",
            "rpk ",
            "scripts/kafka-tool.sh ",
            "kafka-console-producer",
        ]
        .iter()
        .filter_map(|tool| self.text.find(tool))
        .min()
        .expect("a producing command names its tool");
        self.text[start..].trim().to_owned()
    }
}

/// Which tool `command` produces with, if it is a whole producing command (it names a topic;
/// prose that merely mentions a tool does not).
fn producing_tool(command: &str) -> Option<&'static str> {
    let words: Vec<&str> = command.split_whitespace().collect();
    let after = |phrase: &[&str]| {
        words
            .windows(phrase.len() + 1)
            .any(|w| w[..phrase.len()] == *phrase && !w[phrase.len()].starts_with('-'))
    };
    if words.contains(&"kcat") && words.contains(&"-P") && words.contains(&"-t") {
        Some("kcat")
    } else if after(&["rpk", "topic", "produce"]) {
        Some("rpk")
    } else if command.contains("console-producer") && words.contains(&"--topic") {
        Some("kafka-cli")
    } else {
        None
    }
}

/// Every producing command in `docs`: the logical lines of fenced blocks and the inline code
/// spans of prose.
pub fn producing_commands(docs: &[(String, String)]) -> Vec<ProducingCommand> {
    let mut found = Vec::new();
    for (file, text) in docs {
        let mut fenced = false;
        let mut pending: Option<(usize, String)> = None;
        for (i, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("```") {
                fenced = !fenced;
                continue;
            }
            let mut candidates = Vec::new();
            if fenced {
                let (start, mut joined) = pending.take().unwrap_or((i + 1, String::new()));
                joined.push_str(line.trim_end().trim_end_matches('\\'));
                if line.trim_end().ends_with('\\') {
                    joined.push(' ');
                    pending = Some((start, joined));
                    continue;
                }
                candidates.push((start, joined));
            } else {
                candidates.extend(
                    line.split('`')
                        .skip(1)
                        .step_by(2)
                        .map(|span| (i + 1, span.to_owned())),
                );
            }
            for (line_no, command) in candidates {
                if let Some(tool) = producing_tool(&command) {
                    found.push(ProducingCommand {
                        place: format!("{file}:{line_no}"),
                        text: command.split_whitespace().collect::<Vec<_>>().join(" "),
                        tool,
                    });
                }
            }
        }
    }
    found
}

/// Apache Kafka's `Utils.murmur2`, the Java clients' (and rpk's) key hash.
pub fn murmur2(data: &[u8]) -> i32 {
    const M: i32 = 0x5bd1_e995;
    let length = data.len();
    let mut h: i32 = (0x9747_b28c_u32 as i32) ^ (length as i32);
    for chunk in data.chunks_exact(4) {
        let mut k = i32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        k = k.wrapping_mul(M);
        k ^= ((k as u32) >> 24) as i32;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let tail = &data[length & !3..];
    if tail.len() >= 3 {
        h ^= i32::from(tail[2]) << 16;
    }
    if tail.len() >= 2 {
        h ^= i32::from(tail[1]) << 8;
    }
    if !tail.is_empty() {
        h ^= i32::from(tail[0]);
        h = h.wrapping_mul(M);
    }
    h ^= ((h as u32) >> 13) as i32;
    h = h.wrapping_mul(M);
    h ^= ((h as u32) >> 15) as i32;
    h
}

/// The partition the Java clients' default partitioner picks for `key`.
pub fn murmur2_partition(key: &str, partitions: i32) -> i32 {
    (murmur2(key.as_bytes()) & 0x7fff_ffff) % partitions
}
