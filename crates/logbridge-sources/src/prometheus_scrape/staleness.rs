//! Stale markers for scraped series, as Prometheus writes them: a series
//! that was in a target's last scrape and is not in this one (or the whole
//! last scrape, when this one failed) gets a point with no recorded value
//! at this scrape's time. Downstream, the rules engine then sees it end at
//! once instead of 5 minutes later, and remote write carries Prometheus'
//! stale NaN.
//!
//! Points with a timestamp of their own (honoured from the exposition) are
//! not tracked, as in Prometheus: their series end when their timestamps
//! say.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::{DefaultHasher, Hash, Hasher};

use logbridge_event::{FLAG_NO_RECORDED_VALUE, Metric};

/// The series of a target's last scrape.
#[derive(Default)]
pub(crate) struct LastScrape {
    /// By a hash of name and labels: a marker ready to send.
    series: HashMap<u64, Metric>,
}

impl LastScrape {
    /// Records the points of a scrape taken at `time` (none when it failed)
    /// and returns stale markers at `time` for the series of the last one
    /// that it no longer has.
    pub(crate) fn replace(&mut self, points: &[Metric], time: i64) -> Vec<Metric> {
        let mut before = std::mem::take(&mut self.series);
        for point in points.iter().filter(|p| p.time_unix_nano == time) {
            let key = series_key(point);
            // A series seen before keeps its marker: only new series cost
            // a copy.
            if let Entry::Vacant(slot) = self.series.entry(key) {
                slot.insert(before.remove(&key).unwrap_or_else(|| marker(point)));
            }
        }
        let mut ended: Vec<Metric> = before
            .into_values()
            .map(|mut m| {
                m.time_unix_nano = time;
                m
            })
            .collect();
        // Deterministic output, whatever the map's order.
        ended.sort_by(|a, b| a.name.cmp(&b.name));
        ended
    }
}

/// Name and labels (label maps iterate in key order).
fn series_key(m: &Metric) -> u64 {
    let mut h = DefaultHasher::new();
    m.name.hash(&mut h);
    for (k, v) in m.labels.iter() {
        k.hash(&mut h);
        match v.as_bytes() {
            Some(bytes) => bytes.hash(&mut h),
            None => v.to_string_lossy().hash(&mut h),
        }
    }
    h.finish()
}

/// The point as a stale marker: same series and shape (so a histogram
/// ends every one of its bucket series), no recorded value.
fn marker(m: &Metric) -> Metric {
    Metric {
        exemplars: Vec::new(),
        flags: m.flags | FLAG_NO_RECORDED_VALUE,
        ..m.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(name: &str, instance: &str, time: i64) -> Metric {
        Metric::gauge(name, 1.0, time).with_label("instance", instance)
    }

    fn names(markers: &[Metric]) -> Vec<String> {
        markers
            .iter()
            .map(|m| {
                format!(
                    "{}{{{}}}@{}",
                    m.name,
                    m.labels.get("instance").unwrap().to_string_lossy(),
                    m.time_unix_nano
                )
            })
            .collect()
    }

    #[test]
    fn vanished_series_are_marked_once_at_the_scrape_time() {
        let mut last = LastScrape::default();
        assert!(
            last.replace(&[point("a", "1", 10), point("a", "2", 10)], 10)
                .is_empty()
        );
        let markers = last.replace(&[point("a", "1", 20), point("b", "1", 20)], 20);
        assert_eq!(names(&markers), ["a{2}@20"]);
        assert!(
            markers
                .iter()
                .all(|m| m.flags & FLAG_NO_RECORDED_VALUE != 0)
        );
        // A failed scrape ends everything; the next failure ends nothing.
        assert_eq!(names(&last.replace(&[], 30)), ["a{1}@30", "b{1}@30"]);
        assert!(last.replace(&[], 40).is_empty());
        // Back: nothing to mark.
        assert!(last.replace(&[point("a", "1", 50)], 50).is_empty());
    }

    #[test]
    fn points_with_their_own_timestamps_are_not_tracked() {
        let mut last = LastScrape::default();
        last.replace(&[point("a", "1", 5), point("b", "1", 10)], 10);
        assert_eq!(names(&last.replace(&[], 20)), ["b{1}@20"]);
    }
}
