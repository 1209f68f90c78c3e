//! Percentiles over a sorted list of samples (nearest-rank method).

use std::time::Duration;

/// Latency samples in microseconds.
#[derive(Default, Clone)]
pub struct Samples {
    micros: Vec<u64>,
    sorted: bool,
}

impl Samples {
    pub fn push(&mut self, d: Duration) {
        self.micros.push(d.as_micros().min(u64::MAX as u128) as u64);
        self.sorted = false;
    }

    pub fn extend(&mut self, other: Samples) {
        self.micros.extend(other.micros);
        self.sorted = false;
    }

    pub fn len(&self) -> usize {
        self.micros.len()
    }

    fn sort(&mut self) {
        if !self.sorted {
            self.micros.sort_unstable();
            self.sorted = true;
        }
    }

    /// Nearest-rank percentile, `p` in 0..=100; `None` when empty.
    pub fn percentile(&mut self, p: f64) -> Option<Duration> {
        if self.micros.is_empty() {
            return None;
        }
        self.sort();
        let n = self.micros.len();
        let rank = ((p / 100.0) * n as f64).ceil() as usize;
        let idx = rank.clamp(1, n) - 1;
        Some(Duration::from_micros(self.micros[idx]))
    }

    pub fn max(&mut self) -> Option<Duration> {
        self.percentile(100.0)
    }

    /// p50, p99 and max in milliseconds (NaN when empty), for reports.
    pub fn summary_ms(&mut self) -> (f64, f64, f64) {
        let ms = |d: Option<Duration>| d.map_or(f64::NAN, |d| d.as_secs_f64() * 1e3);
        (
            ms(self.percentile(50.0)),
            ms(self.percentile(99.0)),
            ms(self.max()),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let mut s = Samples::default();
        for i in (1..=100).rev() {
            s.push(Duration::from_micros(i));
        }
        assert_eq!(s.percentile(50.0), Some(Duration::from_micros(50)));
        assert_eq!(s.percentile(99.0), Some(Duration::from_micros(99)));
        assert_eq!(s.max(), Some(Duration::from_micros(100)));
        assert_eq!(s.percentile(0.0), Some(Duration::from_micros(1)));
        assert_eq!(Samples::default().percentile(50.0), None);
    }

    #[test]
    fn single_sample() {
        let mut s = Samples::default();
        s.push(Duration::from_millis(3));
        assert_eq!(s.summary_ms(), (3.0, 3.0, 3.0));
    }
}
