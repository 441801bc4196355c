//! The `route` transform: sends each event to every route whose condition
//! it meets (outputs named after the routes, addressed as `id.route`), and
//! events that meet none to `_unmatched`.

use indexmap::IndexMap;
use logbridge_component::{
    BuildContext, BuildError, OutputDef, Transform, TransformConfig, TransformOutputs,
};
use logbridge_event::{DataKind, Event, EventBatch};
use serde::Deserialize;

use crate::condition::{ConditionConfig, EventCondition};

/// The output for events that match no route.
pub const UNMATCHED_OUTPUT: &str = "_unmatched";

/// Splits events into named routes by condition.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// Route names and their conditions, e.g.
    /// `route.errors = '.status >= 500'`. An event goes to every route it
    /// matches.
    pub route: IndexMap<String, ConditionConfig>,
}

impl TransformConfig for RouteConfig {
    fn build(&self, _cx: &BuildContext) -> Result<Box<dyn Transform>, BuildError> {
        if self.route.is_empty() {
            return Err(BuildError::new("route", "route needs at least one route")
                .with_hint("add route.NAME = 'condition'"));
        }
        let mut routes = Vec::with_capacity(self.route.len());
        for (name, source) in &self.route {
            if name == UNMATCHED_OUTPUT {
                return Err(BuildError::new(
                    "route",
                    format!("`{UNMATCHED_OUTPUT}` is reserved"),
                ));
            }
            routes.push(EventCondition::compile(&format!("route.{name}"), source)?);
        }
        Ok(Box::new(Route { routes }))
    }

    fn is_stateless(&self) -> bool {
        true
    }

    fn input_kinds(&self) -> DataKind {
        DataKind::ALL
    }

    fn outputs(&self, input: DataKind) -> Vec<OutputDef> {
        self.route
            .keys()
            .map(|name| OutputDef::named(name, input))
            .chain(std::iter::once(OutputDef::named(UNMATCHED_OUTPUT, input)))
            .collect()
    }
}

struct Route {
    routes: Vec<EventCondition>,
}

impl Transform for Route {
    fn transform(&mut self, mut batch: EventBatch, out: &mut TransformOutputs) {
        let n_routes = self.routes.len();
        // matches[r][i]: event i meets route r; the last row is `_unmatched`.
        let mut matches = vec![vec![false; batch.len()]; n_routes + 1];
        let mut times_matched = vec![0usize; batch.len()];
        for (i, event) in batch.events().iter().enumerate() {
            for (r, cond) in self.routes.iter().enumerate() {
                if cond.check(event) {
                    matches[r][i] = true;
                    times_matched[i] += 1;
                }
            }
            if times_matched[i] == 0 {
                matches[n_routes][i] = true;
                times_matched[i] = 1;
            }
        }
        // Outputs are declared in route order with `_unmatched` last, so
        // route index r is output port r.
        // Every event goes to one output: hand the whole batch on.
        for (r, row) in matches.iter().enumerate() {
            if row.iter().all(|m| *m) && times_matched.iter().all(|t| *t == 1) {
                out.push_port(r, batch);
                return;
            }
        }
        let total = batch.len().max(1);
        let size = batch.byte_size();
        let finalizers = batch.finalizers.clone();
        let mut slots: Vec<Option<Event>> = batch.take_events().into_iter().map(Some).collect();
        for (r, row) in matches.iter().enumerate() {
            let mut events = Vec::new();
            for (i, matched) in row.iter().enumerate() {
                if !matched {
                    continue;
                }
                times_matched[i] -= 1;
                // The last route an event goes to takes it; earlier ones copy.
                let event = if times_matched[i] == 0 {
                    slots[i].take()
                } else {
                    slots[i].clone()
                };
                events.extend(event);
            }
            if !events.is_empty() {
                let share = size * events.len() / total;
                out.push_port(
                    r,
                    EventBatch::with_size(events, share).with_finalizers(finalizers.clone()),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use logbridge_component::telemetry::ComponentKind;
    use logbridge_event::{LogRecord, Path, Value};

    fn log(status: i64) -> Event {
        let mut l = LogRecord::default();
        l.insert(&Path::parse(".status").unwrap(), Value::Integer(status))
            .unwrap();
        Event::Log(l)
    }

    fn route(events: Vec<Event>) -> Vec<(usize, Vec<i64>)> {
        let cfg: RouteConfig = serde_json::from_value(serde_json::json!({
            "route": {"errors": ".status >= 500", "server": ".status >= 400"}
        }))
        .unwrap();
        let outputs = cfg.outputs(DataKind::LOG);
        assert_eq!(
            outputs.last().unwrap().name.as_deref(),
            Some(UNMATCHED_OUTPUT)
        );
        let mut t = cfg
            .build(&BuildContext::detached(
                "r",
                ComponentKind::Transform,
                "/tmp".into(),
            ))
            .unwrap();
        let mut out = TransformOutputs::new(outputs.into_iter().map(|o| o.name).collect());
        t.transform(EventBatch::new(events), &mut out);
        out.drain()
            .map(|(port, b)| {
                let statuses = b
                    .events()
                    .iter()
                    .map(|e| match e.as_log().unwrap().attributes["status"] {
                        Value::Integer(i) => i,
                        _ => -1,
                    })
                    .collect();
                (port, statuses)
            })
            .collect()
    }

    #[test]
    fn events_go_to_every_matching_route_and_the_rest_to_unmatched() {
        let got = route(vec![log(200), log(404), log(503)]);
        assert_eq!(
            got,
            vec![(0, vec![503]), (1, vec![404, 503]), (2, vec![200])]
        );
    }

    #[test]
    fn a_batch_for_one_route_passes_whole() {
        assert_eq!(route(vec![log(200), log(201)]), vec![(2, vec![200, 201])]);
    }
}
