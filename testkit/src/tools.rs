//! Parsers of what the operator tools print: Kafka's `consumer-groups --describe` and
//! `--reset-offsets`, GetOffsetShell, the console consumer, and kcat's query and consume
//! formats. Shared by the tests that read a group's offsets and lag the way an operator would.

use std::collections::BTreeMap;

/// One row of `consumer-groups --describe`.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupRow {
    pub partition: i32,
    /// The group's committed offset (`-` when none).
    pub current: Option<i64>,
    pub log_end: Option<i64>,
    pub lag: Option<i64>,
    /// The member that owns the partition, if any.
    pub consumer_id: Option<String>,
}

fn dash(cell: &str) -> Option<i64> {
    (cell != "-").then(|| {
        cell.parse()
            .unwrap_or_else(|e| panic!("not a number: {cell:?}: {e}"))
    })
}

/// The rows of `consumer-groups --describe` for `topic`, by partition.
pub fn parse_describe(output: &str, group: &str, topic: &str) -> BTreeMap<i32, GroupRow> {
    let mut header: Option<Vec<&str>> = None;
    let mut rows = BTreeMap::new();
    for line in output.lines() {
        let cells: Vec<&str> = line.split_whitespace().collect();
        if cells.first() == Some(&"GROUP") {
            header = Some(cells);
            continue;
        }
        let Some(header) = &header else { continue };
        if cells.len() < 6 || cells[0] != group || cells[1] != topic {
            continue;
        }
        let column = |name: &str| {
            let index = header
                .iter()
                .position(|h| *h == name)
                .unwrap_or_else(|| panic!("no column {name} in {header:?}"));
            cells.get(index).copied().unwrap_or("-")
        };
        let row = GroupRow {
            partition: column("PARTITION").parse().expect("partition"),
            current: dash(column("CURRENT-OFFSET")),
            log_end: dash(column("LOG-END-OFFSET")),
            lag: dash(column("LAG")),
            consumer_id: Some(column("CONSUMER-ID"))
                .filter(|c| *c != "-")
                .map(str::to_owned),
        };
        rows.insert(row.partition, row);
    }
    rows
}

/// `partition -> NEW-OFFSET` of a `consumer-groups --reset-offsets` run.
pub fn parse_reset(output: &str, group: &str, topic: &str) -> BTreeMap<i32, i64> {
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
pub fn parse_get_offsets(output: &str, topic: &str) -> BTreeMap<i32, i64> {
    offsets(output, &format!("{topic}:"), |rest| rest.split_once(':'))
}

/// Every record of `topic` from the beginning to the current end, one line each in kcat's
/// `-f` `format` (e.g. `"%k %p\\n"`). Blocking; panics when kcat fails.
pub fn kcat_read_all(brokers: &str, topic: &str, format: &str) -> String {
    let output = std::process::Command::new("kcat")
        .args([
            "-C",
            "-b",
            brokers,
            "-t",
            topic,
            "-o",
            "beginning",
            "-e",
            "-q",
        ])
        .args(["-f", format])
        .output()
        .expect("kcat -C");
    assert!(output.status.success(), "kcat -C {topic}: {output:?}");
    String::from_utf8(output.stdout).expect("UTF-8 records")
}

/// `partition -> offset` of `kcat -Q` output (`topic [partition] offset N` lines).
pub fn parse_kcat_query(output: &str, topic: &str) -> BTreeMap<i32, i64> {
    offsets(output, &format!("{topic} ["), |rest| {
        let (partition, rest) = rest.split_once(']')?;
        Some((partition, rest.trim().strip_prefix("offset ")?))
    })
}

/// `partition -> offset` of the lines starting with `prefix`, each split by `cells`.
fn offsets(
    output: &str,
    prefix: &str,
    cells: impl Fn(&str) -> Option<(&str, &str)>,
) -> BTreeMap<i32, i64> {
    output
        .lines()
        .filter_map(|l| l.trim().strip_prefix(prefix))
        .map(|rest| {
            let (partition, offset) =
                cells(rest).unwrap_or_else(|| panic!("unexpected offsets line {rest:?}"));
            (
                partition.parse().expect("partition"),
                offset.trim().parse().expect("offset"),
            )
        })
        .collect()
}

/// A consumed record as the consume recipes show it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Shown {
    pub partition: i32,
    pub offset: i64,
    pub key: String,
    pub value: String,
}

/// kcat's `partition=%p offset=%o key=%k value=%s` lines.
pub fn parse_kcat_consume(output: &str) -> Vec<Shown> {
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
pub fn parse_console_consume(output: &str) -> Vec<Shown> {
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

/// Runs `scripts/kafka-tool.sh consumer-groups --describe --group GROUP` (with a deadline) and
/// returns its rows for `topic`, by partition, with the raw output (for failure messages).
pub async fn describe_group(group: &str, topic: &str) -> (BTreeMap<i32, GroupRow>, String) {
    let ran = crate::process::run_shell(
        &format!(
            "scripts/kafka-tool.sh consumer-groups --bootstrap-server {} --describe --group {group}",
            crate::services::brokers()
        ),
        std::time::Duration::from_secs(60),
    )
    .await;
    assert!(ran.success, "consumer-groups --describe failed:\n{ran}");
    (parse_describe(&ran.stdout, group, topic), ran.text())
}

/// Runs `describe` until `done` holds for its rows; panics after `timeout` showing the last
/// output. (The consumer commits its Kafka offsets right after each PostgreSQL transaction,
/// so this converges quickly.)
pub async fn describe_until<F, Fut>(
    timeout: std::time::Duration,
    what: &str,
    mut describe: F,
    done: impl Fn(&BTreeMap<i32, GroupRow>) -> bool,
) -> BTreeMap<i32, GroupRow>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = (BTreeMap<i32, GroupRow>, String)>,
{
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let (rows, text) = describe().await;
        if done(&rows) {
            return rows;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}; last describe:\n{text}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
}

/// [`describe_group`] until `done` holds for its rows.
pub async fn describe_group_until(
    group: &str,
    topic: &str,
    timeout: std::time::Duration,
    what: &str,
    done: impl Fn(&BTreeMap<i32, GroupRow>) -> bool,
) -> BTreeMap<i32, GroupRow> {
    describe_until(timeout, what, || describe_group(group, topic), done).await
}

/// The distinct members owning partitions.
pub fn owners(rows: &BTreeMap<i32, GroupRow>) -> std::collections::BTreeSet<String> {
    rows.values()
        .filter_map(|r| r.consumer_id.clone())
        .collect()
}

/// Every partition's committed offset is its log end `ends` (lag 0); a partition that never
/// had a record may have no committed offset.
pub fn caught_up(rows: &BTreeMap<i32, GroupRow>, ends: &BTreeMap<i32, i64>) -> bool {
    rows.len() == ends.len()
        && ends.iter().all(|(p, end)| {
            rows.get(p).is_some_and(|r| {
                (r.current == Some(*end) && r.lag == Some(0)) || (*end == 0 && r.current.is_none())
            })
        })
}

/// `partitions` partitions listed, each with LAG 0 and its committed offset at the log end.
pub fn lag_zero(rows: &BTreeMap<i32, GroupRow>, partitions: i32) -> bool {
    rows.len() == partitions as usize
        && rows
            .values()
            .all(|r| r.lag == Some(0) && r.current.is_some() && r.current == r.log_end)
}

/// Members of `group` according to `consumer-groups --describe --members`.
pub fn group_members(group: &str) -> usize {
    let out = crate::process::kafka_tool(&[
        "consumer-groups",
        "--bootstrap-server",
        &crate::services::brokers(),
        "--describe",
        "--members",
        "--group",
        group,
    ]);
    out.lines().filter(|l| l.starts_with(group)).count()
}

/// `consumer-groups --reset-offsets --to-earliest --execute` for `group` on `topic`.
pub fn reset_to_earliest(group: &str, topic: &str) -> String {
    crate::process::kafka_tool(&[
        "consumer-groups",
        "--bootstrap-server",
        &crate::services::brokers(),
        "--group",
        group,
        "--topic",
        topic,
        "--reset-offsets",
        "--to-earliest",
        "--execute",
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_rows_by_header() {
        let out = "\nGROUP  TOPIC  PARTITION  CURRENT-OFFSET  LOG-END-OFFSET  LAG  CONSUMER-ID  HOST  CLIENT-ID\n\
                   g      t      0          5               7               2    m-1          /h    c\n\
                   g      t      1          -               0               -    -            -     -\n\
                   g      other  0          1               1               0    m-1          /h    c\n";
        let rows = parse_describe(out, "g", "t");
        assert_eq!(rows.len(), 2);
        assert_eq!(
            rows[&0],
            GroupRow {
                partition: 0,
                current: Some(5),
                log_end: Some(7),
                lag: Some(2),
                consumer_id: Some("m-1".into())
            }
        );
        assert_eq!(
            (rows[&1].current, rows[&1].consumer_id.as_deref()),
            (None, None)
        );
        let ends = BTreeMap::from([(0, 7), (1, 0)]);
        assert!(!caught_up(&rows, &ends));
    }

    #[test]
    fn offsets_of_each_tool() {
        let reset = "GROUP TOPIC PARTITION NEW-OFFSET\ng t 0 3\ng t 1 0\n";
        assert_eq!(
            parse_reset(reset, "g", "t"),
            BTreeMap::from([(0, 3), (1, 0)])
        );
        assert_eq!(
            parse_get_offsets("t:0:4\nt:1:9\n", "t"),
            BTreeMap::from([(0, 4), (1, 9)])
        );
        assert_eq!(
            parse_kcat_query("t [0] offset 4\nt [1] offset -1\n", "t"),
            BTreeMap::from([(0, 4), (1, -1)])
        );
        let shown = Shown {
            partition: 2,
            offset: 1,
            key: "k".into(),
            value: "{}".into(),
        };
        assert_eq!(
            parse_kcat_consume(
                "partition=2 offset=1 key=k value={}
"
            ),
            std::slice::from_ref(&shown)
        );
        assert_eq!(
            parse_console_consume("Partition:2\tOffset:1\tk\t{}\n"),
            [shown]
        );
    }
}
