//! Checks of the pipeline graph: every input names an existing output,
//! there are no cycles, and every component can take the kinds of events
//! that reach it. Computes each transform's input kinds on the way.

use std::collections::{HashMap, HashSet};

use logbridge_event::DataKind;

use crate::error::ConfigError;
use crate::model::{Config, Origin};
use crate::suggest;

fn err_at(origin: &Origin, message: String) -> ConfigError {
    ConfigError::new(&origin.file, origin.inputs_line.or(origin.line), message)
}

/// Resolves `name` or `name.output` to the kinds it emits.
fn resolve(config: &Config, input: &str) -> Result<DataKind, (String, String)> {
    let (id, output) = match input.split_once('.') {
        Some((id, out)) => (id, Some(out)),
        None => (input, None),
    };
    if config.sinks.contains_key(id) {
        return Err((
            format!("`{id}` is a sink; sinks have no outputs"),
            "inputs name sources or transforms".into(),
        ));
    }
    let Some(outputs) = config.outputs_of(id) else {
        let known: Vec<&str> = config
            .sources
            .keys()
            .chain(config.transforms.keys())
            .map(String::as_str)
            .collect();
        return Err((
            format!("input `{input}` does not exist"),
            suggest::hint(id, &known),
        ));
    };
    match outputs.iter().find(|o| o.name.as_deref() == output) {
        Some(o) => Ok(o.kinds),
        None => {
            let names: Vec<String> = outputs
                .iter()
                .map(|o| match &o.name {
                    Some(n) => format!("{id}.{n}"),
                    None => id.to_owned(),
                })
                .collect();
            let what = match output {
                Some(o) => format!("`{id}` has no output `{o}`"),
                None => format!("`{id}` has no default output"),
            };
            Err((what, format!("its outputs are: {}", names.join(", "))))
        }
    }
}

pub(crate) fn check(config: &mut Config, broken: &HashSet<String>, errors: &mut Vec<ConfigError>) {
    // Edges between transforms, for the cycle check and ordering.
    let ids: Vec<String> = config.transforms.keys().cloned().collect();
    let mut deps: HashMap<&str, Vec<&str>> = HashMap::new();
    for (id, t) in &config.transforms {
        if t.inputs.is_empty() {
            errors.push(
                err_at(&t.origin, format!("transform `{id}` has no inputs"))
                    .hint("list the components it reads from in `inputs`"),
            );
        }
        let upstream = t
            .inputs
            .iter()
            .map(|i| i.split('.').next().unwrap_or(i))
            .filter(|i| config.transforms.contains_key(*i))
            .collect();
        deps.insert(id, upstream);
    }
    for (id, s) in &config.sinks {
        if s.inputs.is_empty() {
            errors.push(
                err_at(&s.origin, format!("sink `{id}` has no inputs"))
                    .hint("list the components it reads from in `inputs`"),
            );
        }
    }

    // Topological order (Kahn); what is left over sits on a cycle.
    let mut order: Vec<String> = Vec::new();
    let mut done: HashSet<&str> = HashSet::new();
    loop {
        let before = order.len();
        for id in &ids {
            if !done.contains(id.as_str()) && deps[id.as_str()].iter().all(|d| done.contains(d)) {
                done.insert(id);
                order.push(id.clone());
            }
        }
        if order.len() == before {
            break;
        }
    }
    let cyclic: Vec<&String> = ids
        .iter()
        .filter(|id| !done.contains(id.as_str()))
        .collect();
    if !cyclic.is_empty() {
        let first = &config.transforms[cyclic[0].as_str()];
        let names: Vec<&str> = cyclic.iter().map(|s| s.as_str()).collect();
        errors.push(
            err_at(
                &first.origin,
                format!("the pipeline has a cycle through {}", names.join(", ")),
            )
            .hint("a component cannot read, directly or not, from its own output"),
        );
    }
    drop(deps);

    for id in &order {
        let (inputs, origin, accepts) = {
            let t = &config.transforms[id.as_str()];
            (t.inputs.clone(), t.origin.clone(), t.config.input_kinds())
        };
        let consumer = Consumer {
            id,
            inputs: &inputs,
            origin: &origin,
            accepts,
            what: "transform",
        };
        let kinds = input_kinds(config, broken, &consumer, errors);
        if let Some(t) = config.transforms.get_mut(id.as_str()) {
            t.input_kinds = kinds;
        }
    }
    if !cyclic.is_empty() {
        return;
    }
    let sinks: Vec<(String, Vec<String>, Origin, DataKind)> = config
        .sinks
        .iter()
        .map(|(id, s)| {
            (
                id.clone(),
                s.inputs.clone(),
                s.origin.clone(),
                s.config.input_kinds(),
            )
        })
        .collect();
    for (id, inputs, origin, accepts) in sinks {
        let consumer = Consumer {
            id: &id,
            inputs: &inputs,
            origin: &origin,
            accepts,
            what: "sink",
        };
        input_kinds(config, broken, &consumer, errors);
    }
}

/// A transform or sink that is invalid (its options, say), so it is not in
/// the config; its inputs are checked all the same, so that every problem
/// shows at once.
pub(crate) struct BrokenConsumer {
    pub id: String,
    pub inputs: Vec<String>,
    pub origin: Origin,
    /// `transform` or `sink`, for messages.
    pub what: &'static str,
}

/// Warns where a transform that holds events by design (`tail_sample`)
/// reads, directly or through other transforms, from a receiver that
/// answers its clients only once the sinks have the data: every request
/// would wait out the hold.
pub(crate) fn warn_held_answers(config: &Config, warnings: &mut Vec<ConfigError>) {
    for (id, t) in &config.transforms {
        let Some(secs) = t.config.holds_events_secs() else {
            continue;
        };
        let mut seen = HashSet::new();
        let mut stack: Vec<&str> = t.inputs.iter().map(String::as_str).collect();
        while let Some(input) = stack.pop() {
            let upstream = input.split_once('.').map_or(input, |(id, _)| id);
            if !seen.insert(upstream) {
                continue;
            }
            if let Some(source) = config.sources.get(upstream) {
                if source.config.answers_requests() && source.config.can_acknowledge() {
                    warnings.push(
                        err_at(
                            &t.origin,
                            format!(
                                "`{id}` holds events for up to {secs} s, so `{upstream}` answers each request only after that"
                            ),
                        )
                        .hint(format!(
                            "set `receive.acknowledgements = false` on `{upstream}` (clients get their answer at once), or put a Kafka topic between them"
                        ))
                        .warning(),
                    );
                }
            } else if let Some(up) = config.transforms.get(upstream) {
                stack.extend(up.inputs.iter().map(String::as_str));
            }
        }
    }
}

/// Reports inputs of invalid components that do not exist (the kinds they
/// take are unknown, so kinds are not checked).
pub(crate) fn check_broken_inputs(
    config: &Config,
    broken: &HashSet<String>,
    consumers: &[BrokenConsumer],
    errors: &mut Vec<ConfigError>,
) {
    for c in consumers {
        let consumer = Consumer {
            id: &c.id,
            inputs: &c.inputs,
            origin: &c.origin,
            accepts: DataKind::ALL,
            what: c.what,
        };
        input_kinds(config, broken, &consumer, errors);
    }
}

/// A transform or sink, as its inputs are checked.
struct Consumer<'a> {
    id: &'a str,
    inputs: &'a [String],
    origin: &'a Origin,
    /// The kinds of events it takes.
    accepts: DataKind,
    /// `transform` or `sink`, for messages.
    what: &'static str,
}

/// Checks a consumer's inputs and returns the kinds of events they send
/// it.
fn input_kinds(
    config: &Config,
    broken: &HashSet<String>,
    consumer: &Consumer<'_>,
    errors: &mut Vec<ConfigError>,
) -> DataKind {
    let Consumer {
        id,
        inputs,
        origin,
        accepts,
        what,
    } = *consumer;
    let mut kinds = DataKind::NONE;
    let mut seen = HashSet::new();
    for input in inputs {
        if !seen.insert(input) {
            errors.push(err_at(
                origin,
                format!("`{id}` lists input `{input}` twice"),
            ));
            continue;
        }
        if input.split('.').next() == Some(id) {
            errors.push(err_at(origin, format!("`{id}` lists itself as an input")));
            continue;
        }
        if broken.contains(input.split('.').next().unwrap_or(input)) {
            // Already reported where it is declared; its kinds are unknown.
            kinds = kinds.union(accepts);
            continue;
        }
        match resolve(config, input) {
            Ok(k) => {
                if !accepts.contains(k) {
                    let refused = k.difference(accepts);
                    errors.push(
                        err_at(origin, format!("{what} `{id}` takes {accepts}, but input `{input}` sends {refused}"))
                            .hint("route those events elsewhere, or filter them out before this component"),
                    );
                }
                kinds = kinds.union(k);
            }
            Err((message, hint)) => {
                errors.push(err_at(origin, format!("in `{id}`: {message}")).hint(hint))
            }
        }
    }
    kinds
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{SourceSpec, TransformSpec};
    use logbridge_component::{
        BuildContext, BuildError, OutputDef, Source, SourceConfig, Transform, TransformConfig,
    };

    /// A source that emits metrics, to wire into a log-only transform.
    #[derive(Debug)]
    struct MetricsSource;

    impl SourceConfig for MetricsSource {
        fn build(&self, _cx: &BuildContext) -> Result<Box<dyn Source>, BuildError> {
            Err(BuildError::new("type", "not for running"))
        }
        fn outputs(&self) -> Vec<OutputDef> {
            vec![OutputDef::default_output(DataKind::METRIC)]
        }
    }

    /// A transform that takes logs only, as `parse` does.
    #[derive(Debug)]
    struct LogsOnly;

    impl TransformConfig for LogsOnly {
        fn build(&self, _cx: &BuildContext) -> Result<Box<dyn Transform>, BuildError> {
            Err(BuildError::new("type", "not for running"))
        }
        fn input_kinds(&self) -> DataKind {
            DataKind::LOG
        }
        fn outputs(&self, input: DataKind) -> Vec<OutputDef> {
            vec![OutputDef::default_output(input)]
        }
    }

    fn origin(line: usize) -> Origin {
        Origin {
            file: "p.toml".into(),
            line: Some(line),
            inputs_line: Some(line + 2),
        }
    }

    #[test]
    fn metrics_into_a_log_only_transform_is_an_error() {
        let mut config = Config::default();
        config.sources.insert(
            "m".into(),
            SourceSpec {
                type_name: "metrics".into(),
                config: Box::new(MetricsSource),
                origin: origin(1),
            },
        );
        let parse = LogsOnly;
        assert!(!parse.input_kinds().contains(DataKind::METRIC));
        config.transforms.insert(
            "p".into(),
            TransformSpec {
                type_name: "parse".into(),
                config: Box::new(parse),
                inputs: vec!["m".into()],
                origin: origin(5),
                input_kinds: DataKind::NONE,
            },
        );
        let mut errors = Vec::new();
        check(&mut config, &HashSet::new(), &mut errors);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].line, Some(7));
        assert!(
            errors[0]
                .message
                .contains("transform `p` takes logs, but input `m` sends metrics"),
            "{}",
            errors[0].message
        );
    }
}
