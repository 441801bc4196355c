//! The `blackhole` sink: acknowledges and discards everything (for
//! benchmarks and for draining outputs on purpose).

use logbridge_component::{
    BuildContext, BuildError, ComponentError, Sink, SinkConfig, SinkContext,
};
use logbridge_event::DataKind;
use serde::Deserialize;

/// Discards events.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BlackholeConfig {}

impl SinkConfig for BlackholeConfig {
    fn build(&self, _cx: &BuildContext) -> Result<Box<dyn Sink>, BuildError> {
        Ok(Box::new(Blackhole))
    }

    fn input_kinds(&self) -> DataKind {
        DataKind::ALL
    }
}

struct Blackhole;

#[async_trait::async_trait]
impl Sink for Blackhole {
    async fn run(self: Box<Self>, mut cx: SinkContext) -> Result<(), ComponentError> {
        while let Some(batch) = cx.recv().await {
            cx.metrics.add_sent(batch.len(), batch.byte_size());
        }
        Ok(())
    }
}
