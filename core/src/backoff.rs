//! The one retry delay of the project: capped exponential backoff with jitter, used by the
//! consumer while PostgreSQL fails and by the producer's HTTP client while the API refuses.

use std::time::Duration;

use rand::Rng;

/// Delay before retry number `attempt` (0 for the first retry): `base` doubled per attempt up to
/// `cap`, of which half is fixed and half random ("equal jitter"), so retries of many clients
/// spread out but never shrink to nothing.
pub fn backoff(attempt: u32, base: Duration, cap: Duration) -> Duration {
    let ceiling = base
        .saturating_mul(1u32 << attempt.min(16))
        .min(cap.max(base));
    let half = ceiling / 2;
    half + Duration::from_millis(rand::rng().random_range(0..=half.as_millis() as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_and_is_capped() {
        let base = Duration::from_millis(100);
        let cap = Duration::from_secs(5);
        assert!(backoff(0, base, cap) <= base);
        assert!(backoff(3, base, cap) >= base * 4);
        for attempt in 0..50 {
            assert!(backoff(attempt, base, cap) <= cap);
        }
    }
}
