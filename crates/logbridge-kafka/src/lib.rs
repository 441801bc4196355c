//! The `kafka` source and sink, on librdkafka through the `rdkafka` crate.
//!
//! librdkafka is compiled from source and linked in statically (with zlib
//! and zstd), so the binary needs no Kafka library on the machine. Both
//! components keep librdkafka's own options reachable through
//! `librdkafka_options`, as Vector does, but refuse the few that would
//! break delivery guarantees.
//!
//! - `source`: consumer group member; commits an offset only once every
//!   sink acknowledged the records before it.
//! - `sink`: idempotent producer; acknowledges a batch upstream once the
//!   broker acknowledged every record in it.

mod client;
mod options;
pub mod sink;
pub mod source;

pub use options::OptionValue;
pub use sink::KafkaSinkConfig;
pub use source::KafkaSourceConfig;
