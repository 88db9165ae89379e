//! Summary statistics of a handful of timings.

/// Order statistics of one series, in the series' unit.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Summary {
    /// How many values; with 20, the p95 is the second-largest.
    pub(crate) n: usize,
    /// Smallest value: the floor without queueing or poll phase.
    pub(crate) min: f64,
    /// Middle value (mean of the two middle ones for an even count).
    pub(crate) median: f64,
    /// Arithmetic mean: what a poll interval adds on average shows here.
    pub(crate) mean: f64,
    /// Nearest-rank 95th percentile.
    pub(crate) p95: f64,
    /// Largest value.
    pub(crate) max: f64,
}

/// Summarises `values`; `None` when there are none.
pub(crate) fn summarize(values: &[f64]) -> Option<Summary> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    // Nearest rank: the smallest value with at least 95 % at or below it.
    let rank = (0.95 * n as f64).ceil() as usize;
    Some(Summary {
        n,
        min: v[0],
        median,
        mean: v.iter().sum::<f64>() / n as f64,
        p95: v[rank.clamp(1, n) - 1],
        max: v[n - 1],
    })
}
