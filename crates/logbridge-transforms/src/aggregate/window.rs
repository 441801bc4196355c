//! What `aggregate` holds for one interval: one slot per series, folded by
//! the mode, taken out at the end of the interval. Pure: no clock, no
//! outputs, no acknowledgements; at most `max_series` series (and, for
//! `Diff`, as many previous values).

use indexmap::IndexMap;
use indexmap::map::Entry;
use logbridge_event::{KeyString, Metric, MetricKind, MetricValue, Temporality, same_bounds};

use super::AggregationMode;

/// A series: name, labels, resource attributes and scope, as text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct SeriesId {
    name: KeyString,
    labels: Vec<(KeyString, String)>,
    resource: Vec<(KeyString, String)>,
    scope: (String, String),
}

impl SeriesId {
    fn of(m: &Metric) -> SeriesId {
        let text = |map: &logbridge_event::ObjectMap| {
            map.iter()
                .map(|(k, v)| (k.clone(), v.to_string_lossy().into_owned()))
                .collect()
        };
        SeriesId {
            name: m.name.clone(),
            labels: text(&m.labels),
            resource: text(&m.resource().attributes),
            scope: (m.scope().name.clone(), m.scope().version.clone()),
        }
    }
}

/// A series' state in the interval.
#[derive(Debug, Clone, PartialEq)]
enum Slot {
    /// The point so far: the sum, the latest, the extreme or the count.
    Point(Metric),
    /// For `Mean` and `Stdev`: the latest point (for its series and time)
    /// and the running moments (Welford), so a series costs the same
    /// however many points it gets.
    Moments {
        latest: Metric,
        n: u64,
        mean: f64,
        m2: f64,
    },
}

/// What became of a recorded point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Recorded {
    /// Folded into its series.
    Held,
    /// Not one the mode takes (an absolute point for `Sum`, ...).
    Ignored,
    /// It did not fold into what its series held (another type, other
    /// bucket bounds, a summary with quantiles): a sum starts over from
    /// it, a count leaves it out, as in Vector; a failed update.
    Failed,
}

/// One interval's series.
#[derive(Debug)]
pub(super) struct Window {
    mode: AggregationMode,
    max_series: usize,
    series: IndexMap<SeriesId, Slot>,
    /// `Diff`: each series' value at the previous flush.
    previous: IndexMap<SeriesId, Metric>,
}

fn is_scalar(m: &Metric) -> bool {
    matches!(m.value, MetricValue::Scalar(_) | MetricValue::Integer(_))
}

fn is_gauge(m: &Metric) -> bool {
    is_scalar(m) && matches!(m.kind, MetricKind::Gauge | MetricKind::UpDownCounter)
}

/// How a mode folds a point, or `None` when it does not take it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fold {
    Sum,
    Latest,
    Count,
    Extreme,
    Moments,
}

impl Window {
    pub fn new(mode: AggregationMode, max_series: usize) -> Window {
        Window {
            mode,
            max_series: max_series.max(1),
            series: IndexMap::new(),
            previous: IndexMap::new(),
        }
    }

    /// How many series are held (this interval's and, for `Diff`, the
    /// previous values).
    pub fn held(&self) -> (usize, usize) {
        (self.series.len(), self.previous.len())
    }

    fn fold_for(&self, m: &Metric) -> Option<Fold> {
        let incremental = m.temporality == Temporality::Delta;
        match self.mode {
            AggregationMode::Auto if incremental => Some(Fold::Sum),
            AggregationMode::Auto => Some(Fold::Latest),
            AggregationMode::Sum => incremental.then_some(Fold::Sum),
            AggregationMode::Latest | AggregationMode::Diff => {
                (!incremental).then_some(Fold::Latest)
            }
            AggregationMode::Count => Some(Fold::Count),
            AggregationMode::Max | AggregationMode::Min => {
                (!incremental && is_gauge(m)).then_some(Fold::Extreme)
            }
            AggregationMode::Mean | AggregationMode::Stdev => {
                (!incremental && is_gauge(m)).then_some(Fold::Moments)
            }
        }
    }

    /// Folds `m` into its series; hands it back when it is of a new
    /// series and the window already holds `max_series` (flush, then
    /// record it again).
    pub fn record(&mut self, m: Metric) -> Result<Recorded, Box<Metric>> {
        let Some(fold) = self.fold_for(&m) else {
            return Ok(Recorded::Ignored);
        };
        let id = SeriesId::of(&m);
        let mode = self.mode;
        let full = self.series.len() >= self.max_series;
        let slot = match self.series.entry(id) {
            Entry::Occupied(slot) => slot.into_mut(),
            Entry::Vacant(_) if full => return Err(Box::new(m)),
            Entry::Vacant(slot) => {
                slot.insert(first(fold, m));
                return Ok(Recorded::Held);
            }
        };
        Ok(fold_into(mode, fold, slot, m))
    }

    /// Takes the interval's points out; the second value counts the
    /// differences (`Diff`) that could not be taken.
    pub fn flush(&mut self) -> (Vec<Metric>, usize) {
        let series = std::mem::take(&mut self.series);
        let mut failed = 0;
        let mut out = Vec::with_capacity(series.len());
        let mut current = IndexMap::new();
        for (id, slot) in series {
            match slot {
                Slot::Point(m) if self.mode == AggregationMode::Diff => {
                    let mut diff = m.clone();
                    if let Some(prev) = self.previous.get(&id)
                        && !subtract(&mut diff, prev)
                    {
                        failed += 1;
                    }
                    out.push(diff);
                    current.insert(id, m);
                }
                Slot::Point(m) => out.push(m),
                Slot::Moments {
                    latest,
                    n,
                    mean,
                    m2,
                    ..
                } => {
                    let value = match self.mode {
                        // Rounding can leave m2 a hair below zero.
                        AggregationMode::Stdev => (m2.max(0.0) / n as f64).sqrt(),
                        _ => mean,
                    };
                    out.push(Metric {
                        value: MetricValue::Scalar(value),
                        ..latest
                    });
                }
            }
        }
        self.previous = current;
        (out, failed)
    }
}

/// Folds `m` into the series' `slot`.
fn fold_into(mode: AggregationMode, fold: Fold, slot: &mut Slot, m: Metric) -> Recorded {
    match (fold, slot) {
        (Fold::Sum, Slot::Point(held)) => {
            if held.kind == m.kind && held.add(&m) {
                Recorded::Held
            } else {
                *held = m;
                Recorded::Failed
            }
        }
        (Fold::Latest, Slot::Point(held)) => {
            *held = m;
            Recorded::Held
        }
        (Fold::Count, Slot::Point(held)) => {
            if held.temporality != m.temporality {
                return Recorded::Failed;
            }
            let one = Metric {
                value: MetricValue::Scalar(1.0),
                ..counted(m)
            };
            held.add(&one);
            Recorded::Held
        }
        (Fold::Extreme, Slot::Point(held)) => {
            let (new, old) = (m.value.as_f64(), held.value.as_f64());
            let better = match mode {
                AggregationMode::Max => new > old,
                _ => new < old,
            };
            if better {
                *held = m;
            }
            Recorded::Held
        }
        (
            Fold::Moments,
            Slot::Moments {
                latest,
                n,
                mean,
                m2,
            },
        ) => {
            let x = m.value.as_f64().unwrap_or(f64::NAN);
            *n += 1;
            let delta = x - *mean;
            *mean += delta / *n as f64;
            *m2 += delta * (x - *mean);
            *latest = m;
            Recorded::Held
        }
        // A slot is always made by the same fold as the mode's.
        (_, slot) => {
            *slot = first(fold, m);
            Recorded::Failed
        }
    }
}

/// The point a count starts from: a counter of the input's temporality.
fn counted(m: Metric) -> Metric {
    Metric {
        kind: MetricKind::Counter,
        exemplars: Vec::new(),
        ..m
    }
}

/// A series' first slot.
fn first(fold: Fold, m: Metric) -> Slot {
    match fold {
        Fold::Count => Slot::Point(Metric {
            value: MetricValue::Scalar(1.0),
            ..counted(m)
        }),
        Fold::Moments => Slot::Moments {
            mean: m.value.as_f64().unwrap_or(f64::NAN),
            latest: m,
            n: 1,
            m2: 0.0,
        },
        _ => Slot::Point(m),
    }
}

/// `m -= prev` for scalars and histograms of the same bounds; false when
/// they do not fit (then `m` is left as it is).
fn subtract(m: &mut Metric, prev: &Metric) -> bool {
    if m.kind != prev.kind {
        return false;
    }
    match (&mut m.value, &prev.value) {
        (MetricValue::Integer(a), MetricValue::Integer(b)) => match a.checked_sub(*b) {
            Some(d) => *a = d,
            None => m.value = MetricValue::Scalar(*a as f64 - *b as f64),
        },
        (value, prev_value) if is_scalar(prev) => {
            let (Some(a), Some(b)) = (value.as_f64(), prev_value.as_f64()) else {
                return false;
            };
            *value = MetricValue::Scalar(a - b);
        }
        (
            MetricValue::Histogram {
                buckets,
                count,
                sum,
                ..
            },
            MetricValue::Histogram {
                buckets: prev_buckets,
                count: prev_count,
                sum: prev_sum,
                ..
            },
        ) if same_bounds(buckets, prev_buckets) => {
            for (b, p) in buckets.iter_mut().zip(prev_buckets) {
                b.count = b.count.saturating_sub(p.count);
            }
            *count = count.saturating_sub(*prev_count);
            *sum = sum.zip(*prev_sum).map(|(a, b)| a - b);
        }
        _ => return false,
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn delta(name: &str, v: f64, t: i64) -> Metric {
        Metric {
            temporality: Temporality::Delta,
            ..Metric::counter(name, v, t)
        }
    }

    fn put(w: &mut Window, m: Metric) {
        w.record(m).unwrap();
    }

    fn values(points: &[Metric]) -> Vec<(String, MetricValue)> {
        points
            .iter()
            .map(|m| (m.name.to_string(), m.value.clone()))
            .collect()
    }

    #[test]
    fn auto_sums_deltas_and_keeps_the_latest_absolute() {
        let mut w = Window::new(AggregationMode::Auto, 10);
        assert_eq!(w.record(delta("c", 1.0, 1)), Ok(Recorded::Held));
        assert_eq!(w.record(delta("c", 2.5, 3)), Ok(Recorded::Held));
        put(&mut w, delta("c", 4.0, 2).with_label("host", "b"));
        put(&mut w, Metric::gauge("g", 1.0, 1));
        put(&mut w, Metric::gauge("g", 7.0, 2));
        let (out, failed) = w.flush();
        assert_eq!(failed, 0);
        assert_eq!(
            values(&out),
            [
                ("c".into(), MetricValue::Scalar(3.5)),
                ("c".into(), MetricValue::Scalar(4.0)),
                ("g".into(), MetricValue::Scalar(7.0)),
            ]
        );
        assert_eq!(out[0].time_unix_nano, 3);
        assert_eq!(w.held(), (0, 0));
        assert!(w.flush().0.is_empty());
    }

    #[test]
    fn sum_and_latest_ignore_the_other_kind() {
        let mut w = Window::new(AggregationMode::Sum, 10);
        assert_eq!(w.record(Metric::gauge("g", 1.0, 1)), Ok(Recorded::Ignored));
        put(&mut w, delta("c", 1.0, 1));
        // A gauge delta of the same name does not add to a counter.
        let mut other = delta("c", 5.0, 2);
        other.kind = MetricKind::Gauge;
        assert_eq!(w.record(other), Ok(Recorded::Failed));
        assert_eq!(
            values(&w.flush().0),
            [("c".into(), MetricValue::Scalar(5.0))]
        );
        let mut w = Window::new(AggregationMode::Latest, 10);
        assert_eq!(w.record(delta("c", 1.0, 1)), Ok(Recorded::Ignored));
        put(&mut w, Metric::gauge("g", 1.0, 1));
        assert_eq!(
            values(&w.flush().0),
            [("g".into(), MetricValue::Scalar(1.0))]
        );
    }

    #[test]
    fn count_max_min_mean_stdev() {
        let gauges = [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0];
        let run = |mode| {
            let mut w = Window::new(mode, 10);
            for (i, v) in gauges.iter().enumerate() {
                put(&mut w, Metric::gauge("g", *v, i as i64));
            }
            put(&mut w, delta("c", 1.0, 1));
            let (out, _) = w.flush();
            values(&out)
        };
        let g = |v| vec![("g".to_owned(), MetricValue::Scalar(v))];
        assert_eq!(
            run(AggregationMode::Count),
            [
                ("g".to_owned(), MetricValue::Scalar(8.0)),
                ("c".to_owned(), MetricValue::Scalar(1.0))
            ]
        );
        assert_eq!(run(AggregationMode::Max), g(9.0));
        assert_eq!(run(AggregationMode::Min), g(2.0));
        assert_eq!(run(AggregationMode::Mean), g(5.0));
        assert_eq!(run(AggregationMode::Stdev), g(2.0));
        let mut w = Window::new(AggregationMode::Count, 10);
        put(&mut w, Metric::gauge("g", 1.0, 1));
        put(&mut w, Metric::gauge("g", 1.0, 2));
        let out = w.flush().0;
        assert_eq!(out[0].kind, MetricKind::Counter);
        assert_eq!(out[0].temporality, Temporality::Cumulative);
        assert_eq!(out[0].time_unix_nano, 2);
    }

    #[test]
    fn diff_subtracts_the_previous_interval() {
        let mut w = Window::new(AggregationMode::Diff, 10);
        put(&mut w, Metric::gauge("g", 10.0, 1));
        assert_eq!(
            values(&w.flush().0),
            [("g".into(), MetricValue::Scalar(10.0))]
        );
        put(&mut w, Metric::gauge("g", 12.0, 2));
        put(&mut w, Metric::gauge("g", 15.0, 3));
        assert_eq!(
            values(&w.flush().0),
            [("g".into(), MetricValue::Scalar(5.0))]
        );
        // A series that changed type cannot be subtracted: sent as it is.
        let mut c = Metric::counter("g", 20.0, 4);
        c.temporality = Temporality::Cumulative;
        put(&mut w, c);
        let (out, failed) = w.flush();
        assert_eq!(
            (values(&out), failed),
            (vec![("g".into(), MetricValue::Scalar(20.0))], 1)
        );
    }

    #[test]
    fn a_full_window_takes_no_new_series() {
        let mut w = Window::new(AggregationMode::Auto, 2);
        assert_eq!(w.record(delta("a", 1.0, 1)), Ok(Recorded::Held));
        assert_eq!(w.record(delta("b", 1.0, 1)), Ok(Recorded::Held));
        assert_eq!(
            w.record(delta("c", 1.0, 1)),
            Err(Box::new(delta("c", 1.0, 1)))
        );
        assert_eq!(w.record(delta("a", 1.0, 2)), Ok(Recorded::Held));
        assert_eq!(w.held(), (2, 0));
    }

    fn arb_metric() -> impl Strategy<Value = Metric> {
        (0u16..2000, 0u8..4, any::<bool>(), -1e6f64..1e6).prop_map(|(series, kind, delta, v)| {
            let mut m = Metric::gauge(&format!("m{}", series % 500), v, i64::from(series));
            m = m.with_label("l", &(series / 500).to_string());
            m.kind = [
                MetricKind::Counter,
                MetricKind::Gauge,
                MetricKind::UpDownCounter,
                MetricKind::Gauge,
            ][kind as usize];
            if delta {
                m.temporality = Temporality::Delta;
            }
            m
        })
    }

    fn arb_mode() -> impl Strategy<Value = AggregationMode> {
        prop_oneof![
            Just(AggregationMode::Auto),
            Just(AggregationMode::Sum),
            Just(AggregationMode::Latest),
            Just(AggregationMode::Count),
            Just(AggregationMode::Diff),
            Just(AggregationMode::Max),
            Just(AggregationMode::Min),
            Just(AggregationMode::Mean),
            Just(AggregationMode::Stdev),
        ]
    }

    proptest! {
        /// However many series come in, the window holds at most
        /// `max_series` of them (and as many previous values), when it is
        /// flushed on a timer and whenever it is full, as the transform
        /// does; a point refused as full is taken after the flush.
        #[test]
        fn state_stays_within_the_bound(
            mode in arb_mode(),
            max_series in 1usize..64,
            points in proptest::collection::vec(arb_metric(), 0..600),
            flush_every in 1usize..400,
        ) {
            let mut w = Window::new(mode, max_series);
            for (i, m) in points.into_iter().enumerate() {
                if i % flush_every == flush_every - 1 {
                    w.flush();
                }
                if let Err(m) = w.record(m) {
                    w.flush();
                    prop_assert!(w.record(*m).is_ok());
                }
                let (now, previous) = w.held();
                prop_assert!(now <= max_series, "{now} > {max_series}");
                prop_assert!(previous <= max_series, "{previous} > {max_series}");
            }
        }
    }
}
