//! logbridge sinks, one module per sink type, and what they share: path
//! and key [`template`]s and the `encoding` option.

pub mod aws_s3;
pub mod blackhole;
pub mod console;
pub mod encoding;
pub mod file;
pub mod parquet;
pub mod template;
