//! The `stdin` source: newline-delimited lines from standard input. The
//! pipeline stops once standard input ends and everything is delivered.

use bytes::BytesMut;
use logbridge_codec::framing::{Frame, LineFramer};
use logbridge_component::telemetry::RateLimit;
use logbridge_component::{
    BuildContext, BuildError, ComponentError, OutputDef, Source, SourceConfig, SourceContext,
};
use logbridge_event::{DataKind, EventBatch};
use serde::Deserialize;
use tokio::io::AsyncReadExt;
use tracing::warn;

use crate::util::LineBatcher;
use logbridge_component::now_nanos;

/// Reads lines from standard input.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StdinConfig {
    /// Lines longer than this are counted as discarded and skipped.
    #[serde(default = "default_max_line_bytes")]
    pub max_line_bytes: usize,
}

fn default_max_line_bytes() -> usize {
    102_400
}

impl SourceConfig for StdinConfig {
    fn build(&self, _cx: &BuildContext) -> Result<Box<dyn Source>, BuildError> {
        if self.max_line_bytes == 0 {
            return Err(BuildError::new(
                "max_line_bytes",
                "max_line_bytes must be above 0",
            ));
        }
        Ok(Box::new(StdinSource {
            max_line_bytes: self.max_line_bytes,
        }))
    }

    fn outputs(&self) -> Vec<OutputDef> {
        vec![OutputDef::default_output(DataKind::LOG)]
    }
}

struct StdinSource {
    max_line_bytes: usize,
}

const BATCH_EVENTS: usize = 1024;

#[async_trait::async_trait]
impl Source for StdinSource {
    async fn run(self: Box<Self>, cx: SourceContext) -> Result<(), ComponentError> {
        let mut stdin = tokio::io::stdin();
        let mut framer = LineFramer::new(self.max_line_bytes);
        let mut buf = BytesMut::with_capacity(64 * 1024);
        let mut batcher = LineBatcher::new(BATCH_EVENTS);
        let overlong_limit = RateLimit::default();
        loop {
            buf.reserve(64 * 1024);
            let n = tokio::select! {
                r = stdin.read_buf(&mut buf) => r?,
                _ = cx.shutdown.wait() => break,
            };
            let now = now_nanos();
            let mut frames = Vec::new();
            if n == 0 {
                frames.extend(framer.finish(&mut buf));
            } else {
                framer.decode(&mut buf, |f| frames.push(f));
            }
            for frame in frames {
                match frame {
                    Frame::Line { line, .. } => {
                        if batcher.push(line, now) && !send(&cx, batcher.take()).await {
                            return Ok(());
                        }
                    }
                    Frame::Overlong { bytes, .. } => {
                        cx.metrics.add_discarded(1, false);
                        cx.metrics.add_error();
                        if !overlong_limit.allow() {
                            continue;
                        }
                        warn!(
                            message = "Skipped a line over max_line_bytes.",
                            bytes,
                            max_line_bytes = self.max_line_bytes
                        );
                    }
                }
            }
            if !batcher.is_empty() && !send(&cx, batcher.take()).await {
                return Ok(());
            }
            if n == 0 {
                break;
            }
        }
        Ok(())
    }
}

/// Counts and sends a batch; false once nothing consumes the output.
async fn send(cx: &SourceContext, batch: EventBatch) -> bool {
    cx.metrics.add_received(batch.len(), batch.byte_size());
    cx.out.send(batch).await.is_ok()
}
