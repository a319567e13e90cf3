//! deploy/: the Prometheus configuration and alert rules pass `promtool` (check config, check
//! rules, and the rule unit tests of alerts_test.yml), and every metric the Grafana dashboard
//! and the alert rules name exists in the real `/metrics` of a running API and consumer.
//!
//! promtool comes from Debian's `prometheus` package (scripts/test-deps.sh extracts it into
//! .local/tools/; a system-wide /usr/bin/promtool or `LOGAGG_PROMTOOL` wins).

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use logagg_testkit::{event_json, root, wait_for, TestEnv};
use serde_json::{json, Value};

/// Series Prometheus makes itself (per scrape target), not exported by logagg.
const PROMETHEUS_BUILTINS: [&str; 1] = ["up"];

fn promtool() -> PathBuf {
    let candidates = [
        std::env::var_os("LOGAGG_PROMTOOL").map(PathBuf::from),
        Some(PathBuf::from("/usr/bin/promtool")),
        Some(root().join(".local/tools/prometheus/usr/bin/promtool")),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|path| path.is_file())
        .expect("promtool is missing: run `bash scripts/test-deps.sh` (or `make test`)")
}

fn promtool_passes(args: &[&str]) {
    let output = Command::new(promtool())
        .args(args)
        .current_dir(root().join("deploy/prometheus"))
        .output()
        .expect("running promtool");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "promtool {args:?}:\n{text}");
    assert!(text.contains("SUCCESS"), "promtool {args:?}:\n{text}");
}

#[test]
fn promtool_accepts_the_config_and_the_rules() {
    promtool_passes(&["check", "config", "prometheus.yml"]);
    promtool_passes(&["check", "rules", "alerts.yml"]);
    promtool_passes(&["test", "rules", "alerts_test.yml"]);
}

/// The metric names of a PromQL expression: identifiers that are not functions, keywords,
/// label names (in `{...}` or `by (...)`), durations (`[...]`) or strings.
fn metric_names(expr: &str) -> BTreeSet<String> {
    const KEYWORDS: [&str; 10] = [
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "and",
        "or",
        "unless",
        "bool",
    ];
    // Aggregations may take `by (...)` before their parenthesis: `sum by (le) (...)`.
    const AGGREGATIONS: [&str; 12] = [
        "sum",
        "min",
        "max",
        "avg",
        "group",
        "stddev",
        "stdvar",
        "count",
        "count_values",
        "bottomk",
        "topk",
        "quantile",
    ];
    let mut text = String::new();
    let mut depth_brace = 0;
    let mut depth_bracket = 0;
    let mut in_string = None;
    for c in expr.chars() {
        match (in_string, c) {
            (Some(q), c) if c == q => in_string = None,
            (Some(_), _) => {}
            (None, '"' | '\'' | '`') => in_string = Some(c),
            (None, '{') => depth_brace += 1,
            (None, '}') => depth_brace -= 1,
            (None, '[') => depth_bracket += 1,
            (None, ']') => depth_bracket -= 1,
            (None, c) if depth_brace == 0 && depth_bracket == 0 => text.push(c),
            _ => {}
        }
        if depth_brace > 0 || depth_bracket > 0 || in_string.is_some() {
            text.push(' ');
        }
    }
    let chars: Vec<char> = text.chars().collect();
    let mut names = BTreeSet::new();
    let mut i = 0;
    let mut label_list = false;
    while i < chars.len() {
        let c = chars[i];
        if c.is_ascii_digit() {
            // A number such as 0.95 or 1e3 (its letters are no name).
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
            continue;
        }
        if c.is_ascii_alphabetic() || c == '_' || c == ':' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || "_:".contains(chars[i])) {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let next = chars[i..].iter().find(|c| !c.is_whitespace());
            if KEYWORDS.contains(&word.as_str()) {
                // `by (a, b)`: the list that follows holds label names.
                label_list =
                    next == Some(&'(') && !["and", "or", "unless", "bool"].contains(&word.as_str());
            } else if next != Some(&'(') && !label_list && !AGGREGATIONS.contains(&word.as_str()) {
                names.insert(word);
            }
            continue;
        }
        if c == ')' {
            label_list = false;
        }
        i += 1;
    }
    names
}

#[test]
fn metric_names_are_read_out_of_promql() {
    let names = metric_names(
        r#"histogram_quantile(0.95, sum by (le, stage) (rate(logagg_consumer_stage_seconds_bucket{stage!="x"}[$__rate_interval])))
           / on(instance) group_left sum(up{job="a"}) or vector(0) > bool 1e3"#,
    );
    assert_eq!(
        names,
        ["logagg_consumer_stage_seconds_bucket", "up"]
            .map(String::from)
            .into()
    );
}

/// Every `expr:` of alerts.yml (plain, or a folded `>-` block).
fn alert_expressions() -> Vec<String> {
    let text = std::fs::read_to_string(root().join("deploy/prometheus/alerts.yml")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let mut exprs = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some((indent, value)) = line.split_once("expr:") else {
            continue;
        };
        let value = value.trim();
        if value.starts_with('>') || value.starts_with('|') {
            let block: Vec<&str> = lines[i + 1..]
                .iter()
                .take_while(|l| l.len() - l.trim_start().len() > indent.len())
                .map(|l| l.trim())
                .collect();
            exprs.push(block.join(" "));
        } else {
            exprs.push(value.to_owned());
        }
    }
    exprs
}

fn dashboard_expressions() -> Vec<String> {
    let text =
        std::fs::read_to_string(root().join("deploy/grafana/dashboards/logagg.json")).unwrap();
    let dashboard: Value = serde_json::from_str(&text).expect("the dashboard is JSON");
    dashboard["panels"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|panel| panel["targets"].as_array().cloned().unwrap_or_default())
        .map(|target| target["expr"].as_str().unwrap().to_owned())
        .collect()
}

/// The sample names of a Prometheus text exposition (histograms give `_bucket`, `_sum`, `_count`).
fn exposed(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| {
            line.split(|c: char| c == '{' || c.is_whitespace())
                .next()
                .unwrap()
                .to_owned()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn dashboard_and_rules_name_only_exported_metrics() {
    let env = TestEnv::new("observability", 2).await;
    let consumer = env.spawn_consumer("observability").await;
    let api = env.spawn_api().await;
    // Every labelled series appears once it has a value: unique, duplicate, invalid records,
    // a batch, lag from the statistics, a dead letter.
    let events = json!([event_json("obs", "a"), event_json("obs", "b")]);
    api.api().publish_ok(&events).await;
    api.api().publish_ok(&events).await;
    env.produce_raw(Some(0), None, b"not json").await;
    let exported = wait_for(
        Duration::from_secs(60),
        "every series in /metrics",
        || async {
            let api_text = api.get_text("/metrics").await.ok()?;
            let consumer_text = consumer.get_text("/metrics").await.ok()?;
            let names = exposed(&format!("{api_text}\n{consumer_text}"));
            [
                "logagg_consumer_records_total",
                "logagg_consumer_lag",
                "logagg_dead_letters",
            ]
            .iter()
            .all(|n| names.contains(*n))
            .then_some(names)
        },
    )
    .await;

    let alerts = alert_expressions();
    assert_eq!(alerts.len(), 5, "five alert rules: {alerts:?}");
    let dashboard = dashboard_expressions();
    assert!(dashboard.len() >= 10, "{dashboard:?}");
    let mut named = BTreeSet::new();
    for expr in alerts.iter().chain(&dashboard) {
        let names = metric_names(expr);
        assert!(!names.is_empty(), "no metric in {expr}");
        named.extend(names);
    }
    let missing: Vec<&String> = named
        .iter()
        .filter(|n| !exported.contains(*n) && !PROMETHEUS_BUILTINS.contains(&n.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "named by deploy/ but not in /metrics: {missing:?}\nexported: {exported:?}"
    );
    // The rules cover what operators page on.
    for metric in [
        "logagg_consumer_lag",
        "logagg_dead_letters",
        "logagg_api_requests_total",
        "logagg_consumer_db_retries_total",
    ] {
        assert!(
            alerts.iter().any(|e| e.contains(metric)),
            "no rule on {metric}"
        );
    }
}
