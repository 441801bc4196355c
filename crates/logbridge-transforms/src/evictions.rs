//! The one counter every stateful transform reports its evictions in, so
//! that bounded state (caches, groups, windows) shows when its bound bites.
//! It only names the counter; each transform decides what to evict.

use logbridge_component::telemetry::{ComponentMetrics, GaugeDef};

/// Entries of a transform's state dropped to stay within a configured
/// bound, labelled by `state` (what was evicted: `cache`, `group`, ...).
pub static EVICTIONS: GaugeDef = GaugeDef {
    name: "logbridge_component_evictions_total",
    help: "Entries a transform evicted from its state to stay within a configured bound, by the kind of state.",
    counter: true,
};

/// Counts `n` evictions from the state named `state`.
pub fn count_evictions(metrics: &ComponentMetrics, state: &str, n: usize) {
    if n > 0 {
        metrics.add_to_gauge(&EVICTIONS, &[("state", state)], n as i64);
    }
}
