//! logbridge's rules engine: Prometheus-compatible evaluation of PromQL,
//! recording and alerting rules over the metric series flowing through a
//! pipeline.
//!
//! - [`labels`]: label sets as PromQL sees them;
//! - [`store`]: the in-memory series store, bounded in series and time,
//!   keeping samples compressed, and only of the series some rule reads;
//! - [`storage`]: what the evaluator reads ([`storage::Queryable`]);
//! - [`promql`]: the evaluator;
//! - [`rule_file`]: Prometheus rule files, checked with positions;
//! - [`rules`]: rule groups, alert state and notifications;
//! - [`template`]: the template language of alert labels and annotations,
//!   a crate of its own (`logbridge-text-template`) re-exported here
//!   because alerting rules hold its templates;
//! - [`promqltest`] and [`promtool`]: Prometheus' test formats (PromQL
//!   test files, rule unit tests), so that the engine is checked against
//!   the cases Prometheus itself is tested with.
//!
//! The crate is pure: it does no I/O, spawns nothing and reads no clock.
//! Callers feed samples, ask for evaluations at a time they choose, and
//! carry results away; a query's time limit and how long evaluations take
//! are measured with a [`Clock`] the caller passes in the engine options.

mod chunk;
mod clock;
mod duration;
pub mod labels;
mod notation;
pub mod promql;
pub mod promqltest;
pub mod promtool;
pub mod rule_file;
pub mod rules;
mod selection;
pub mod storage;
pub mod store;

pub use clock::Clock;
pub use logbridge_text_template as template;
