//! Retry with exponential backoff and jitter, for transient errors only.

use std::time::Duration;

use rand::Rng;

use crate::config::RetryConfig;
use crate::pipeline::cancel::CancellationToken;
use crate::{Error, Result};

/// How a failing stage is retried: up to `max_attempts` attempts in all, waiting
/// `initial_backoff × multiplier^(n-1)` (capped at `max_backoff`, spread by ±`jitter`)
/// before retry `n`. Only errors for which [`Error::is_transient`] holds are retried.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all (1 = never retry).
    pub max_attempts: u32,
    /// Wait before the first retry.
    pub initial_backoff: Duration,
    /// Longest wait.
    pub max_backoff: Duration,
    /// Growth factor between waits.
    pub multiplier: f64,
    /// Random spread as a fraction of the wait.
    pub jitter: f64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy::from(&RetryConfig::default())
    }
}

impl From<&RetryConfig> for RetryPolicy {
    fn from(c: &RetryConfig) -> Self {
        RetryPolicy {
            max_attempts: c.max_attempts.max(1),
            initial_backoff: Duration::from_millis(c.initial_backoff_ms),
            max_backoff: Duration::from_millis(c.max_backoff_ms),
            multiplier: c.multiplier,
            jitter: c.jitter,
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries.
    pub fn none() -> Self {
        RetryPolicy { max_attempts: 1, ..Self::default() }
    }

    /// The wait before retry number `retry` (1 for the first retry), before jitter.
    pub fn base_delay(&self, retry: u32) -> Duration {
        let factor = self.multiplier.powi(retry.saturating_sub(1).min(64) as i32);
        let secs = (self.initial_backoff.as_secs_f64() * factor).min(self.max_backoff.as_secs_f64());
        Duration::from_secs_f64(secs.max(0.0))
    }

    /// The wait before retry number `retry`, with jitter applied.
    pub fn delay(&self, retry: u32) -> Duration {
        let base = self.base_delay(retry).as_secs_f64();
        let spread = if self.jitter > 0.0 { rand::rng().random_range(-self.jitter..=self.jitter) } else { 0.0 };
        Duration::from_secs_f64((base * (1.0 + spread)).max(0.0))
    }

    /// Runs `f` until it succeeds, fails permanently, or runs out of attempts.
    /// `on_retry(next_attempt, delay, error)` is called before each wait. Waits end early
    /// when `cancel` is raised. Returns the result and the number of attempts made.
    pub fn run<T>(
        &self,
        cancel: &CancellationToken,
        mut f: impl FnMut(u32) -> Result<T>,
        mut on_retry: impl FnMut(u32, Duration, &Error),
    ) -> (Result<T>, u32) {
        let mut attempt = 1;
        loop {
            match f(attempt) {
                Ok(v) => return (Ok(v), attempt),
                Err(e) if e.is_transient() && attempt < self.max_attempts && !cancel.is_cancelled() => {
                    let wait = self.delay(attempt);
                    on_retry(attempt + 1, wait, &e);
                    if !sleep_unless_cancelled(wait, cancel) {
                        return (Err(Error::Cancelled), attempt);
                    }
                    attempt += 1;
                }
                Err(e) => return (Err(e), attempt),
            }
        }
    }
}

/// Sleeps for `d`, waking early when cancelled. Returns false when cancelled.
pub(crate) fn sleep_unless_cancelled(d: Duration, cancel: &CancellationToken) -> bool {
    let end = std::time::Instant::now() + d;
    loop {
        if cancel.is_cancelled() {
            return false;
        }
        let now = std::time::Instant::now();
        if now >= end {
            return true;
        }
        std::thread::sleep((end - now).min(Duration::from_millis(20)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fast(max_attempts: u32) -> RetryPolicy {
        RetryPolicy {
            max_attempts,
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(4),
            multiplier: 2.0,
            jitter: 0.0,
        }
    }

    #[test]
    fn backoff_grows_exponentially_and_is_capped() {
        let p = RetryPolicy {
            max_attempts: 10,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(1000),
            multiplier: 2.0,
            jitter: 0.0,
        };
        let ms: Vec<u128> = (1..=6).map(|n| p.base_delay(n).as_millis()).collect();
        assert_eq!(ms, vec![100, 200, 400, 800, 1000, 1000]);
    }

    #[test]
    fn jitter_stays_within_its_spread() {
        let p = RetryPolicy { jitter: 0.25, ..fast(3) };
        let p = RetryPolicy { initial_backoff: Duration::from_millis(400), max_backoff: Duration::from_secs(10), ..p };
        for _ in 0..200 {
            let d = p.delay(1).as_secs_f64();
            assert!((0.3..=0.5).contains(&d), "{d}");
        }
    }

    #[test]
    fn transient_errors_are_retried_until_success() {
        let mut retries = vec![];
        let (r, attempts) = fast(5).run(
            &CancellationToken::new(),
            |n| {
                if n < 3 { Err(Error::transient("busy")) } else { Ok(n) }
            },
            |n, _, e| retries.push((n, e.to_string())),
        );
        assert_eq!(r.unwrap(), 3);
        assert_eq!(attempts, 3);
        assert_eq!(retries, vec![(2, "busy".to_string()), (3, "busy".to_string())]);
    }

    #[test]
    fn permanent_errors_and_exhaustion_stop() {
        let (r, attempts) =
            fast(5).run(&CancellationToken::new(), |_| Err::<(), _>(Error::permanent("bad")), |_, _, _| {});
        assert!(r.is_err());
        assert_eq!(attempts, 1);
        let (r, attempts) =
            fast(3).run(&CancellationToken::new(), |_| Err::<(), _>(Error::transient("busy")), |_, _, _| {});
        assert_eq!(r.unwrap_err().to_string(), "busy");
        assert_eq!(attempts, 3);
    }
}
