//! The series store: the recent samples of the series that reach the
//! rules engine and that some rule reads (`Selection`), indexed by label
//! for selectors, bounded in series count and in time.

use std::collections::HashMap;
use std::sync::Arc;

use promql_parser::label::{MatchOp, Matcher};

use crate::chunk::{self, SeriesSamples};
use crate::labels::Labels;
use crate::selection::Selection;
use crate::storage::{Queryable, SeriesData, matches_all};

/// Why a sample was not stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AppendError {
    #[error("the series limit is reached; new series are dropped")]
    SeriesLimit,
    #[error("sample is older than the series' newest sample")]
    OutOfOrder,
    #[error("a different sample exists for the same timestamp")]
    Duplicate,
    #[error("no rule reads the series")]
    NotSelected,
}

struct StoredSeries {
    labels: Labels,
    samples: SeriesSamples,
}

/// In-memory series with an inverted index from label pairs to series.
pub struct SeriesStore {
    series: Vec<Option<StoredSeries>>,
    free: Vec<u32>,
    ids: HashMap<Labels, u32>,
    postings: HashMap<(Arc<str>, Arc<str>), Vec<u32>>,
    max_series: usize,
    /// The series worth keeping; others are refused before they take room.
    selection: Selection,
}

impl SeriesStore {
    /// A store that keeps every series, up to `max_series`.
    pub fn new(max_series: usize) -> Self {
        Self::selecting(max_series, Selection::all())
    }

    /// A store that keeps only the series `selection` wants.
    pub(crate) fn selecting(max_series: usize, selection: Selection) -> Self {
        Self {
            series: Vec::new(),
            free: Vec::new(),
            ids: HashMap::new(),
            postings: HashMap::new(),
            max_series,
            selection,
        }
    }

    /// Series currently held.
    pub fn series_count(&self) -> usize {
        self.ids.len()
    }

    /// Samples currently held.
    pub fn sample_count(&self) -> usize {
        self.series.iter().flatten().map(|s| s.samples.len()).sum()
    }

    /// Samples and their heap bytes over the series `which` selects (to
    /// tell apart what different kinds of series cost).
    pub fn sample_stats(&self, which: impl Fn(&Labels) -> bool) -> (usize, usize) {
        self.series
            .iter()
            .flatten()
            .filter(|s| which(&s.labels))
            .fold((0, 0), |(n, b), s| {
                (n + s.samples.len(), b + s.samples.byte_len())
            })
    }

    /// Heap bytes held by the samples (not the labels or the index).
    pub fn sample_bytes(&self) -> usize {
        self.series
            .iter()
            .flatten()
            .map(|s| s.samples.byte_len())
            .sum()
    }

    /// Appends a sample. Samples of a series must come in time order; the
    /// same sample again is accepted and changes nothing.
    pub fn append(&mut self, labels: &Labels, t: i64, v: f64) -> Result<(), AppendError> {
        let id = match self.ids.get(labels) {
            Some(&id) => id,
            None => self.create(labels)?,
        };
        let Some(series) = self.series[id as usize].as_mut() else {
            return Err(AppendError::OutOfOrder);
        };
        series.samples.append(t, v).map_err(|e| match e {
            chunk::AppendError::DuplicateTimestamp { .. } => AppendError::Duplicate,
            _ => AppendError::OutOfOrder,
        })
    }

    fn create(&mut self, labels: &Labels) -> Result<u32, AppendError> {
        if !self.selection.wants(labels) {
            return Err(AppendError::NotSelected);
        }
        if self.ids.len() >= self.max_series {
            return Err(AppendError::SeriesLimit);
        }
        let stored = StoredSeries {
            labels: labels.clone(),
            samples: SeriesSamples::new(),
        };
        let id = match self.free.pop() {
            Some(id) => {
                self.series[id as usize] = Some(stored);
                id
            }
            None => {
                self.series.push(Some(stored));
                u32::try_from(self.series.len() - 1).map_err(|_| AppendError::SeriesLimit)?
            }
        };
        for label in labels.iter() {
            let list = self
                .postings
                .entry((label.name.clone(), label.value.clone()))
                .or_default();
            let at = list.partition_point(|&x| x < id);
            list.insert(at, id);
        }
        self.ids.insert(labels.clone(), id);
        Ok(id)
    }

    /// Forgets samples older than `t`, and series left without samples.
    pub fn truncate_before(&mut self, t: i64) {
        let mut emptied = Vec::new();
        for (id, slot) in self.series.iter_mut().enumerate() {
            if let Some(series) = slot {
                if series.samples.last_time().is_none_or(|last| last < t) {
                    emptied.push(id as u32);
                } else {
                    series.samples.truncate_before(t);
                }
            }
        }
        for id in emptied {
            self.remove(id);
        }
    }

    fn remove(&mut self, id: u32) {
        let Some(series) = self.series[id as usize].take() else {
            return;
        };
        for label in series.labels.iter() {
            let key = (label.name.clone(), label.value.clone());
            if let Some(list) = self.postings.get_mut(&key) {
                list.retain(|&x| x != id);
                if list.is_empty() {
                    self.postings.remove(&key);
                }
            }
        }
        self.ids.remove(&series.labels);
        self.free.push(id);
    }

    /// The candidate series for a selector: the shortest postings list of
    /// its equality matchers, or every series.
    fn candidates(&self, matchers: &[Matcher]) -> Vec<u32> {
        let mut best: Option<&Vec<u32>> = None;
        for m in matchers {
            if m.op != MatchOp::Equal || m.value.is_empty() {
                continue;
            }
            let key: (Arc<str>, Arc<str>) =
                (Arc::from(m.name.as_str()), Arc::from(m.value.as_str()));
            match self.postings.get(&key) {
                None => return Vec::new(),
                Some(list) => {
                    if best.is_none_or(|b| list.len() < b.len()) {
                        best = Some(list);
                    }
                }
            }
        }
        match best {
            Some(list) => list.clone(),
            None => (0..self.series.len() as u32)
                .filter(|&id| self.series[id as usize].is_some())
                .collect(),
        }
    }
}

impl Queryable for SeriesStore {
    fn select(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
        max_samples: usize,
    ) -> Option<Vec<SeriesData>> {
        let mut out = Vec::new();
        let mut left = max_samples;
        for id in self.candidates(matchers) {
            let Some(series) = &self.series[id as usize] else {
                continue;
            };
            if !matches_all(&series.labels, matchers) {
                continue;
            }
            let mut samples = Vec::new();
            for sample in series.samples.range(mint, maxt) {
                left = left.checked_sub(1)?;
                samples.push(sample);
            }
            if !samples.is_empty() {
                out.push(SeriesData {
                    labels: series.labels.clone(),
                    samples,
                });
            }
        }
        Some(out)
    }
}
