//! The `filter` transform: passes on the events for which a condition holds
//! and discards the rest (counted as intentionally discarded).

use std::sync::Arc;

use logbridge_component::telemetry::ComponentMetrics;
use logbridge_component::{
    BuildContext, BuildError, OutputDef, Transform, TransformConfig, TransformOutputs,
};
use logbridge_event::{DataKind, EventBatch};
use serde::Deserialize;

use crate::condition::{ConditionConfig, EventCondition};
use crate::retain::keep_flagged;

/// Keeps the events that match a condition.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FilterConfig {
    /// The condition events must meet to pass, e.g.
    /// `.level != "debug" && .status >= 500`, or a table such as
    /// `{ type = "vrl", source = "..." }` or `{ type = "is_log" }`.
    pub condition: ConditionConfig,
}

impl TransformConfig for FilterConfig {
    fn build(&self, cx: &BuildContext) -> Result<Box<dyn Transform>, BuildError> {
        let condition = EventCondition::compile("condition", &self.condition)?;
        Ok(Box::new(Filter {
            condition,
            metrics: cx.metrics.clone(),
        }))
    }

    fn is_stateless(&self) -> bool {
        true
    }

    fn input_kinds(&self) -> DataKind {
        DataKind::ALL
    }

    fn outputs(&self, input: DataKind) -> Vec<OutputDef> {
        vec![OutputDef::default_output(input)]
    }
}

struct Filter {
    condition: EventCondition,
    metrics: Arc<ComponentMetrics>,
}

impl Transform for Filter {
    fn transform(&mut self, mut batch: EventBatch, out: &mut TransformOutputs) {
        let before = batch.len();
        let keep: Vec<bool> = batch
            .events()
            .iter()
            .map(|e| self.condition.check(e))
            .collect();
        let kept = keep_flagged(&mut batch, &keep);
        if kept > 0 {
            out.push(batch);
        }
        self.metrics.add_discarded(before - kept, true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use logbridge_component::telemetry::ComponentKind;
    use logbridge_event::{Event, LogRecord, Path, Value};

    fn test_cx() -> BuildContext {
        BuildContext::detached("f", ComponentKind::Transform, "/tmp".into())
    }

    fn log(status: i64) -> Event {
        let mut l = LogRecord::default();
        l.insert(&Path::parse(".status").unwrap(), Value::Integer(status))
            .unwrap();
        Event::Log(l)
    }

    #[test]
    fn keeps_matching_events_only() {
        let cfg = FilterConfig {
            condition: ".status >= 500".into(),
        };
        let mut t = cfg.build(&test_cx()).unwrap();
        let mut out = TransformOutputs::new(vec![None]);
        t.transform(
            EventBatch::new(vec![log(200), log(500), log(503)]),
            &mut out,
        );
        let got: Vec<_> = out.drain().collect();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].1.len(), 2);
    }

    #[test]
    fn bad_condition_is_a_build_error_naming_the_option() {
        let cfg = FilterConfig {
            condition: ".status >= ".into(),
        };
        let err = cfg.build(&test_cx()).err().unwrap();
        assert_eq!(err.option.as_deref(), Some("condition"));
    }
}
