//! The Kafka client kit: what the `kafka` source and the `kafka` sink
//! (in `logbridge-sources` and `logbridge-sinks`) share, on librdkafka
//! through the `rdkafka` crate.
//!
//! librdkafka is compiled from source and linked in statically (with zlib
//! and zstd), so the binary needs no Kafka library on the machine. Both
//! components keep librdkafka's own options reachable through
//! `librdkafka_options`, as Vector does, but refuse the few that would
//! break delivery guarantees.
//!
//! - [`client`]: checks of `bootstrap_servers`, the client configuration
//!   both components start from, and librdkafka's logs, errors and
//!   statistics turned into the component's logs, counters and problem;
//! - [`options`]: the values `librdkafka_options` takes.
//!
//! This crate holds no component: it must not depend on a component crate.

pub mod client;
pub mod options;

pub use options::OptionValue;
/// The librdkafka binding both components build on.
pub use rdkafka;
