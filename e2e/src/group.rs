//! Parsing the output of Kafka's `consumer-groups --describe` (scripts/kafka-tool.sh), shared by
//! the tests that read a group's offsets and lag the way an operator would.

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
