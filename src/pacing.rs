//! When the next request may start: the rate limit, and backoff after failures.

use std::cell::Cell;
use std::rc::Rc;

/// The earliest moment the next request to one KeyCRM account may start, shared by
/// the runs of one process (a full sync and the order webhooks' syncs, say), so that
/// together they keep to the account's limit as one run would. Clones share it.
#[derive(Debug, Clone, Default)]
pub struct SharedPacing(Rc<Cell<u64>>);

/// Spaces request starts at least `interval_ms` apart, measured start-to-start.
///
/// Measuring from starts (not from when an answer arrived) means a slow answer does
/// not slow the scan: the wait before the next request shrinks by the time the
/// previous one took. No window of `interval × limit` ever holds more than the limit.
#[derive(Debug, Clone)]
pub struct Pacer {
    interval_ms: u64,
    next_start_ms: SharedPacing,
}

impl Pacer {
    /// A pacer of its own whose first request may start at once.
    pub fn new(interval_ms: u64) -> Self {
        Pacer::joined(interval_ms, &SharedPacing::default())
    }

    /// A pacer whose starts and holds are shared with every other pacer joined to
    /// `shared`: a start by any of them delays the others, and so does a hold
    /// after a 429, which KeyCRM counts per account.
    pub fn joined(interval_ms: u64, shared: &SharedPacing) -> Self {
        Pacer {
            interval_ms,
            next_start_ms: shared.clone(),
        }
    }

    /// How long to wait before a request may start.
    pub fn wait_ms(&self, now_ms: u64) -> u64 {
        self.next_start_ms.0.get().saturating_sub(now_ms)
    }

    /// Records that a request starts now.
    pub fn started(&mut self, now_ms: u64) {
        self.hold_until(now_ms + self.interval_ms);
    }

    /// Holds every request back until `at_ms` (after a 429 or a backoff).
    pub fn hold_until(&mut self, at_ms: u64) {
        let next = &self.next_start_ms.0;
        next.set(next.get().max(at_ms));
    }

    /// The start-to-start interval.
    pub fn interval_ms(&self) -> u64 {
        self.interval_ms
    }
}

/// Exponential backoff with jitter: attempt `n` (1-based) waits a random time in
/// `[d/2, d]` where `d = min(base × 2^(n−1), max)`.
///
/// Half of the delay is fixed so a retry never comes right away; the other half is
/// random so that clients that failed together do not retry together.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    /// Delay of the first attempt, before jitter, in ms.
    pub base_ms: u64,
    /// Longest delay, before jitter, in ms.
    pub max_ms: u64,
}

impl Backoff {
    /// The delay before retry `attempt` (1-based), given a random number in `[0, 1)`.
    pub fn delay_ms(&self, attempt: u32, random: f64) -> u64 {
        let doubling = 1u64
            .checked_shl(attempt.saturating_sub(1))
            .unwrap_or(u64::MAX);
        let full = self.base_ms.saturating_mul(doubling).min(self.max_ms);
        let half = full / 2;
        half + ((full - half) as f64 * random.clamp(0.0, 1.0)) as u64
    }
}

/// A small seeded generator (SplitMix64) for jitter. The seed is an input, so runs are
/// reproducible in tests and random in production.
#[derive(Debug, Clone)]
pub struct Jitter(u64);

impl Jitter {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Jitter(seed)
    }

    /// The next number in `[0, 1)`.
    pub fn next_unit(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_are_spaced_start_to_start() {
        let mut pacer = Pacer::new(1_000);
        assert_eq!(pacer.wait_ms(5_000), 0);
        pacer.started(5_000);
        // The answer took 700 ms: only 300 ms are left to wait.
        assert_eq!(pacer.wait_ms(5_700), 300);
        // The answer took longer than the interval: no wait at all.
        assert_eq!(pacer.wait_ms(6_400), 0);
    }

    #[test]
    fn hold_only_pushes_later() {
        let mut pacer = Pacer::new(1_000);
        pacer.started(0);
        pacer.hold_until(500);
        assert_eq!(pacer.wait_ms(0), 1_000);
        pacer.hold_until(30_000);
        assert_eq!(pacer.wait_ms(0), 30_000);
    }

    #[test]
    fn joined_pacers_space_their_starts_as_one() {
        let shared = SharedPacing::default();
        let mut scan = Pacer::joined(1_000, &shared);
        let mut order = Pacer::joined(1_000, &shared);
        scan.started(10_000);
        assert_eq!(
            order.wait_ms(10_200),
            800,
            "the scan's start delays the order"
        );
        order.started(11_000);
        assert_eq!(scan.wait_ms(11_000), 1_000, "and the order's the scan");
        // A 429 seen by one holds both; a pacer of its own is not held.
        scan.hold_until(40_000);
        assert_eq!(order.wait_ms(12_000), 28_000);
        assert_eq!(Pacer::new(1_000).wait_ms(12_000), 0);
    }

    #[test]
    fn backoff_doubles_within_bounds() {
        let b = Backoff {
            base_ms: 1_000,
            max_ms: 30_000,
        };
        assert_eq!(b.delay_ms(1, 0.0), 500);
        assert_eq!(b.delay_ms(1, 0.999_999), 999);
        assert_eq!(b.delay_ms(3, 0.0), 2_000);
        assert_eq!(b.delay_ms(10, 0.0), 15_000);
        assert!(b.delay_ms(200, 0.999) <= 30_000);
    }

    #[test]
    fn jitter_is_uniformish_and_reproducible() {
        let mut a = Jitter::new(42);
        let mut b = Jitter::new(42);
        let xs: Vec<f64> = (0..1000).map(|_| a.next_unit()).collect();
        assert!(xs.iter().all(|x| (0.0..1.0).contains(x)));
        assert_eq!(
            xs[..10],
            (0..10).map(|_| b.next_unit()).collect::<Vec<_>>()[..]
        );
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        assert!((0.45..0.55).contains(&mean), "{mean}");
    }
}
