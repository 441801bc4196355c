//! The `console` sink: writes events to standard output or standard error.

use std::io::Write;

use logbridge_component::{
    BuildContext, BuildError, ComponentError, Sink, SinkConfig, SinkContext,
};
use logbridge_event::{BatchStatus, DataKind};
use serde::Deserialize;

use logbridge_codec::encoding::EncodingConfig;

use crate::encoding_error;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    #[default]
    Stdout,
    Stderr,
}

/// Prints events.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsoleConfig {
    /// How to encode events.
    pub encoding: EncodingConfig,
    /// `stdout` or `stderr`.
    #[serde(default)]
    pub target: Target,
}

impl SinkConfig for ConsoleConfig {
    fn build(&self, _cx: &BuildContext) -> Result<Box<dyn Sink>, BuildError> {
        Ok(Box::new(Console {
            encoder: self.encoding.line_encoder().map_err(encoding_error)?,
            target: self.target,
        }))
    }

    fn input_kinds(&self) -> DataKind {
        DataKind::ALL
    }
}

struct Console {
    encoder: logbridge_codec::encode::Encoder,
    target: Target,
}

#[async_trait::async_trait]
impl Sink for Console {
    async fn run(self: Box<Self>, mut cx: SinkContext) -> Result<(), ComponentError> {
        let mut buf = Vec::with_capacity(64 * 1024);
        while let Some(batch) = cx.recv().await {
            buf.clear();
            for e in batch.events() {
                self.encoder.encode(e, &mut buf);
            }
            let result = match self.target {
                Target::Stdout => std::io::stdout()
                    .lock()
                    .write_all(&buf)
                    .and_then(|()| std::io::stdout().flush()),
                Target::Stderr => std::io::stderr().lock().write_all(&buf),
            };
            match result {
                Ok(()) => cx.metrics.add_sent(batch.len(), buf.len()),
                Err(error) => {
                    // A closed pipe cannot be retried: mark the batch so its
                    // source does not commit it, and stop.
                    cx.metrics.add_error();
                    batch.finalizers.update_status(BatchStatus::Errored);
                    return Err(ComponentError::Io(error));
                }
            }
        }
        Ok(())
    }
}
