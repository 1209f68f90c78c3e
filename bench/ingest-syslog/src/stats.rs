//! Latency samples and their percentiles (nearest rank).

use std::time::Duration;

#[derive(Default, Clone)]
pub struct Latencies(Vec<Duration>);

impl Latencies {
    pub fn push(&mut self, d: Duration) {
        self.0.push(d);
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The `p`th percentile (0..=100) in seconds, `None` without samples.
    pub fn percentile(&self, p: f64) -> Option<f64> {
        if self.0.is_empty() {
            return None;
        }
        let mut sorted = self.0.clone();
        sorted.sort_unstable();
        let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
        Some(sorted[rank.clamp(1, sorted.len()) - 1].as_secs_f64())
    }

    /// `p50 0.840 s  p99 1.920 s  max 2.101 s`, or `-` without samples.
    pub fn describe(&self) -> String {
        match (
            self.percentile(50.0),
            self.percentile(99.0),
            self.percentile(100.0),
        ) {
            (Some(p50), Some(p99), Some(max)) => {
                format!("p50 {p50:.3} s  p99 {p99:.3} s  max {max:.3} s")
            }
            _ => "-".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        let mut l = Latencies::default();
        assert_eq!(l.percentile(50.0), None);
        for ms in 1..=100 {
            l.push(Duration::from_millis(ms));
        }
        assert_eq!(l.percentile(50.0), Some(0.05));
        assert_eq!(l.percentile(99.0), Some(0.099));
        assert_eq!(l.percentile(100.0), Some(0.1));
    }
}
