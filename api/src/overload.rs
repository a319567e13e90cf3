//! The cap on in-flight publish work (`LOGAGG_API_MAX_INFLIGHT_PUBLISH_BYTES`): every
//! `POST /publish` reserves its body's size before the body is read and holds it until it is
//! answered (parsing, validation, the broker's acks). When the budget is spent the request is
//! shed at once with 503 and `Retry-After`, its body never buffered, so a flood far above
//! capacity leaves the API's memory bounded and the requests it does take fast.

use std::sync::Arc;

use prometheus::IntCounter;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The budget is kept in KiB, so that any size fits the semaphore's `u32` permits.
const UNIT: u64 = 1024;
/// Least a request is charged: every request costs buffers, a task and librdkafka work
/// however small its body.
const MIN_CHARGE_BYTES: u64 = 4 * UNIT;

/// Bytes of publish work admitted and not yet answered, shared by every request.
#[derive(Clone)]
pub struct PublishBudget {
    permits: Arc<Semaphore>,
    capacity_units: u32,
    pub shed: IntCounter,
}

impl PublishBudget {
    /// A budget of `bytes` (at least one request of the minimum charge).
    pub fn new(bytes: u64) -> Self {
        let capacity_units = units(bytes.max(MIN_CHARGE_BYTES));
        let shed = IntCounter::new(
            "logagg_api_publish_shed_total",
            "POST /publish requests answered 503 because LOGAGG_API_MAX_INFLIGHT_PUBLISH_BYTES of publish work was in flight.",
        )
        .expect("valid metric");
        Self {
            permits: Arc::new(Semaphore::new(capacity_units as usize)),
            capacity_units,
            shed,
        }
    }

    /// Reserves room for a body of `declared` bytes (its Content-Length; `limit`, the largest
    /// body allowed, when the body is chunked), or `None` when the budget is spent. The
    /// reservation is returned when the permit is dropped.
    pub fn try_reserve(&self, declared: Option<u64>, limit: u64) -> Option<OwnedSemaphorePermit> {
        let bytes = declared
            .unwrap_or(limit)
            .clamp(MIN_CHARGE_BYTES, limit.max(MIN_CHARGE_BYTES));
        // A body allowed by the size limit but larger than the whole budget takes all of it.
        let charge = units(bytes).min(self.capacity_units);
        let permit = self.permits.clone().try_acquire_many_owned(charge).ok();
        if permit.is_none() {
            self.shed.inc();
        }
        permit
    }

    /// Bytes of publish work in flight now (rounded up to KiB).
    pub fn in_flight_bytes(&self) -> u64 {
        u64::from(self.capacity_units).saturating_sub(self.permits.available_permits() as u64)
            * UNIT
    }
}

fn units(bytes: u64) -> u32 {
    u32::try_from(bytes.div_ceil(UNIT)).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1024 * 1024;

    #[test]
    fn requests_are_admitted_until_the_budget_is_spent_and_again_once_answered() {
        let budget = PublishBudget::new(2 * MIB);
        let first = budget.try_reserve(Some(MIB), 4 * MIB).expect("fits");
        let second = budget.try_reserve(Some(MIB), 4 * MIB).expect("fits");
        assert_eq!(budget.in_flight_bytes(), 2 * MIB);
        assert!(budget.try_reserve(Some(10), 4 * MIB).is_none(), "spent");
        assert_eq!(budget.shed.get(), 1);
        drop(first);
        assert!(budget.try_reserve(Some(MIB), 4 * MIB).is_some());
        drop(second);
    }

    #[test]
    fn small_and_chunked_bodies_are_charged_the_minimum_and_the_limit() {
        let budget = PublishBudget::new(MIB);
        let tiny = budget.try_reserve(Some(1), MIB).expect("fits");
        assert_eq!(budget.in_flight_bytes(), MIN_CHARGE_BYTES);
        drop(tiny);
        let chunked = budget.try_reserve(None, MIB).expect("fits");
        assert_eq!(budget.in_flight_bytes(), MIB);
        drop(chunked);
    }

    #[test]
    fn a_body_larger_than_the_budget_takes_all_of_it_but_is_not_refused_forever() {
        let budget = PublishBudget::new(MIB);
        let big = budget
            .try_reserve(Some(3 * MIB), 4 * MIB)
            .expect("alone, it fits");
        assert!(budget.try_reserve(Some(1), 4 * MIB).is_none());
        drop(big);
    }
}
