//! The records every measurement uses, generated once from the producer's deterministic
//! [`LoadPlan`] (known ground truth: which sends are first occurrences, which re-send an event).

use bytes::{Bytes, BytesMut};
use logagg_producer::generator::{LoadPlan, LoadSpec};

/// Sends of a plan, serialized once: record key (the event topic) and value (the event JSON),
/// all values in one buffer so a request body or a Kafka value is a zero-copy slice.
pub struct Dataset {
    pub plan: LoadPlan,
    topics: Vec<String>,
    topic_of: Vec<u8>,
    values: Bytes,
    spans: Vec<(u32, u32)>,
    /// Whether send k is the first occurrence of its event.
    pub first: Vec<bool>,
}

impl Dataset {
    pub fn generate(
        events: usize,
        duplicate_ratio: f64,
        topics: usize,
        payload_bytes: usize,
        seed: u64,
        prefix: &str,
    ) -> Self {
        assert!(topics <= 256, "topic index is a u8");
        let plan = LoadPlan::new(LoadSpec {
            events,
            duplicate_ratio,
            topics,
            payload_bytes,
            seed,
            topic_prefix: prefix.to_owned(),
        });
        let topic_names: Vec<String> = (0..topics.max(1))
            .map(|t| format!("{prefix}.{t}"))
            .collect();
        let mut buffer = BytesMut::with_capacity(events * (payload_bytes + 200));
        let mut spans = Vec::with_capacity(events);
        let mut topic_of = Vec::with_capacity(events);
        let mut first = Vec::with_capacity(events);
        let mut next_new = 0u32;
        for (k, &index) in plan.sends.iter().enumerate() {
            let event = plan.send(k);
            let value = event.to_json_bytes();
            spans.push((buffer.len() as u32, value.len() as u32));
            buffer.extend_from_slice(&value);
            let t = topic_names
                .iter()
                .position(|n| *n == event.topic)
                .expect("generated topics are <prefix>.<n>");
            topic_of.push(t as u8);
            first.push(index == next_new);
            if index == next_new {
                next_new += 1;
            }
        }
        Self {
            plan,
            topics: topic_names,
            topic_of,
            values: buffer.freeze(),
            spans,
            first,
        }
    }

    pub fn len(&self) -> usize {
        self.spans.len()
    }

    pub fn distinct(&self) -> usize {
        self.plan.distinct
    }

    /// Record key of send k (the event's topic).
    pub fn key(&self, k: usize) -> &str {
        &self.topics[self.topic_of[k] as usize]
    }

    /// Record value of send k (the event JSON), zero-copy.
    pub fn value(&self, k: usize) -> Bytes {
        let (start, len) = self.spans[k];
        self.values.slice(start as usize..(start + len) as usize)
    }

    /// Average serialized event size.
    pub fn mean_value_bytes(&self) -> f64 {
        self.values.len() as f64 / self.len().max(1) as f64
    }

    /// `{"events": [...]}` of sends `range`, as `POST /publish` takes it.
    pub fn batch_body(&self, range: std::ops::Range<usize>) -> Bytes {
        let size: usize = range.clone().map(|k| self.spans[k].1 as usize + 1).sum();
        let mut body = BytesMut::with_capacity(size + 16);
        body.extend_from_slice(b"{\"events\":[");
        for (n, k) in range.enumerate() {
            if n > 0 {
                body.extend_from_slice(b",");
            }
            body.extend_from_slice(&self.value(k));
        }
        body.extend_from_slice(b"]}");
        body.freeze()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_match_the_plan() {
        let data = Dataset::generate(1_000, 0.3, 16, 200, 7, "t");
        assert_eq!(data.len(), 1_000);
        assert_eq!(data.distinct(), 700);
        assert_eq!(data.first.iter().filter(|f| **f).count(), 700);
        let event = data.plan.send(5);
        assert_eq!(data.key(5), event.topic);
        assert_eq!(&data.value(5)[..], &event.to_json_bytes()[..]);
        let body: serde_json::Value = serde_json::from_slice(&data.batch_body(0..3)).unwrap();
        assert_eq!(body["events"].as_array().unwrap().len(), 3);
    }
}
