//! Splitting a batch into shares of whole partitions, so that several PostgreSQL transactions
//! can write one batch at once. A partition is never split: its progress row, its counters and
//! the order of its records stay with one transaction, which is what keeps every guarantee of a
//! single-transaction batch (docs/GUARANTEES.md) per partition.

use std::collections::BTreeMap;

use crate::batch::DecodedRecord;

/// Splits `records` into at most `writers` non-empty shares of whole partitions, balanced by
/// record count (largest partition first, each to the lightest share). Every share keeps its
/// records in their original order.
pub fn by_partition(records: Vec<DecodedRecord>, writers: usize) -> Vec<Vec<DecodedRecord>> {
    let mut per_partition: BTreeMap<i32, usize> = BTreeMap::new();
    for record in &records {
        *per_partition.entry(record.raw.partition).or_default() += 1;
    }
    let writers = writers.clamp(1, per_partition.len().max(1));
    if writers == 1 {
        return if records.is_empty() {
            Vec::new()
        } else {
            vec![records]
        };
    }
    let mut partitions: Vec<(i32, usize)> = per_partition.into_iter().collect();
    partitions.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut load = vec![0usize; writers];
    let mut share_of: BTreeMap<i32, usize> = BTreeMap::new();
    for (partition, count) in partitions {
        let lightest = (0..writers).min_by_key(|&s| load[s]).unwrap_or(0);
        load[lightest] += count;
        share_of.insert(partition, lightest);
    }
    let mut shares: Vec<Vec<DecodedRecord>> = load.iter().map(|n| Vec::with_capacity(*n)).collect();
    for record in records {
        shares[share_of[&record.raw.partition]].push(record);
    }
    shares
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::RawRecord;

    fn record(partition: i32, offset: i64) -> DecodedRecord {
        DecodedRecord {
            raw: RawRecord {
                partition,
                offset,
                key: None,
                value: None,
            },
            event: Err("unused".into()),
        }
    }

    fn layout(shares: &[Vec<DecodedRecord>]) -> Vec<Vec<(i32, i64)>> {
        shares
            .iter()
            .map(|s| s.iter().map(|r| (r.raw.partition, r.raw.offset)).collect())
            .collect()
    }

    #[test]
    fn one_writer_or_one_partition_keeps_the_batch_whole() {
        let batch = vec![record(0, 1), record(1, 1), record(0, 2)];
        assert_eq!(
            layout(&by_partition(batch.clone(), 1)),
            [vec![(0, 1), (1, 1), (0, 2)]]
        );
        let single = vec![record(3, 1), record(3, 2)];
        assert_eq!(layout(&by_partition(single, 4)), [vec![(3, 1), (3, 2)]]);
        assert!(by_partition(Vec::new(), 2).is_empty());
    }

    #[test]
    fn partitions_are_never_split_and_keep_their_order() {
        let batch: Vec<_> = (0..30).map(|i| record(i % 5, i as i64)).collect();
        let shares = by_partition(batch, 2);
        assert_eq!(shares.len(), 2);
        let mut seen = BTreeMap::new();
        for (index, share) in shares.iter().enumerate() {
            let mut last = BTreeMap::new();
            for r in share {
                assert_eq!(*seen.entry(r.raw.partition).or_insert(index), index);
                let previous = last.insert(r.raw.partition, r.raw.offset);
                assert!(previous.is_none_or(|p| p < r.raw.offset), "order kept");
            }
        }
        assert_eq!(seen.len(), 5);
        assert_eq!(shares.iter().map(Vec::len).sum::<usize>(), 30);
    }

    #[test]
    fn shares_are_balanced_by_record_count() {
        // Partition 0 holds half the batch: it gets a share of its own.
        let mut batch: Vec<_> = (0..6).map(|i| record(0, i)).collect();
        batch.extend((0..2).map(|i| record(1, i)));
        batch.extend((0..2).map(|i| record(2, i)));
        batch.extend((0..2).map(|i| record(3, i)));
        let sizes: Vec<usize> = by_partition(batch, 2).iter().map(Vec::len).collect();
        assert_eq!(sizes, [6, 6]);
    }
}
