//! Results of a scenario run, the statistics over them, and text tables.

use serde::Serialize;

/// Which direction of a metric is an improvement.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Better {
    Higher,
    Lower,
}

/// One measured figure.
#[derive(Clone, Debug, Serialize)]
pub struct Metric {
    pub name: &'static str,
    pub unit: &'static str,
    pub better: Better,
    pub value: f64,
}

/// The outcome of one scenario run.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub scenario: String,
    /// Messages published (requests, for reqrep).
    pub published: u64,
    /// Messages delivered to subscribers (replies, for reqrep).
    pub delivered: u64,
    /// The messages the server's CPU time is divided by: delivered where
    /// there are subscribers, published otherwise.
    pub work: u64,
    pub elapsed_s: f64,
    pub metrics: Vec<Metric>,
}

impl Report {
    pub fn new(scenario: &str) -> Report {
        Report {
            scenario: scenario.to_string(),
            published: 0,
            delivered: 0,
            work: 0,
            elapsed_s: 0.0,
            metrics: Vec::new(),
        }
    }

    /// Adds a metric.
    pub fn add(&mut self, name: &'static str, unit: &'static str, better: Better, value: f64) {
        self.metrics.push(Metric {
            name,
            unit,
            better,
            value,
        });
    }

    /// Adds msgs/s and MB/s for `msgs` messages of `size` bytes.
    pub fn add_rate(&mut self, msgs: u64, size: usize) {
        let rate = msgs as f64 / self.elapsed_s.max(1e-9);
        self.add("msgs_per_sec", "msgs/s", Better::Higher, rate);
        self.add(
            "mb_per_sec",
            "MB/s",
            Better::Higher,
            rate * size as f64 / 1e6,
        );
    }
}

/// The median (mean of the middle two for an even count); NaN if empty.
pub fn median(values: &[f64]) -> f64 {
    let mut v: Vec<f64> = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// The nearest-rank `q` quantile (0 < q ≤ 1) of sorted values; 0 if empty.
pub fn percentile(sorted: &[u64], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// A number shown with three significant figures and a k/M/G suffix.
pub fn human(v: f64) -> String {
    if !v.is_finite() {
        return "-".into();
    }
    let (v, suffix) = match v.abs() {
        a if a >= 1e9 => (v / 1e9, "G"),
        a if a >= 1e6 => (v / 1e6, "M"),
        a if a >= 1e4 => (v / 1e3, "k"),
        _ => (v, ""),
    };
    let digits = match v.abs() {
        a if a >= 100.0 => 0,
        a if a >= 10.0 => 1,
        a if a >= 1.0 => 2,
        _ => 3,
    };
    format!("{v:.digits$}{suffix}")
}

/// Renders rows as left-aligned columns (the first row is the header).
pub fn table(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(s, w)| format!("{s:<w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// The table for single runs: one row per metric.
pub fn reports_table(reports: &[Report]) -> String {
    let mut rows = vec![vec![
        "scenario".into(),
        "metric".into(),
        "value".into(),
        "unit".into(),
    ]];
    for r in reports {
        rows.push(vec![
            r.scenario.clone(),
            "elapsed".into(),
            format!("{:.3}", r.elapsed_s),
            "s".into(),
        ]);
        rows.push(vec![
            String::new(),
            "published".into(),
            r.published.to_string(),
            "msgs".into(),
        ]);
        rows.push(vec![
            String::new(),
            "delivered".into(),
            r.delivered.to_string(),
            "msgs".into(),
        ]);
        for m in &r.metrics {
            rows.push(vec![
                String::new(),
                m.name.into(),
                human(m.value),
                m.unit.into(),
            ]);
        }
    }
    table(&rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_percentiles() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&[]).is_nan());
        let v: Vec<u64> = (1..=1000).collect();
        assert_eq!(percentile(&v, 0.5), 500);
        assert_eq!(percentile(&v, 0.999), 999);
        assert_eq!(percentile(&v, 1.0), 1000);
        assert_eq!(percentile(&[], 0.5), 0);
    }

    #[test]
    fn human_numbers() {
        assert_eq!(human(1_234_567.0), "1.23M");
        assert_eq!(human(12_345.0), "12.3k");
        assert_eq!(human(0.5), "0.500");
        assert_eq!(human(f64::NAN), "-");
    }
}
