//! Vector's options that are not any one component's, so that a Vector
//! config loads unchanged: `acknowledgements` (global, and per sink or
//! source) and a sink's `healthcheck`, taken and mapped onto what
//! logbridge does; and Vector's global options that logbridge has no
//! counterpart for, named with a hint instead of "unknown option".
//!
//! Only parses and explains; what an option changes is applied by the
//! loader. Names no component: the Vector component types and component
//! options logbridge lacks come with the registry the binary passes.

use serde_json::Value as Json;

/// A problem with an option, at a path below the option that was parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Note {
    pub at: Vec<String>,
    pub message: String,
    pub hint: Option<String>,
}

impl Note {
    pub(crate) fn new(at: &[&str], message: impl Into<String>) -> Note {
        Note {
            at: at.iter().map(|s| (*s).to_owned()).collect(),
            message: message.into(),
            hint: None,
        }
    }

    pub(crate) fn hint(mut self, hint: impl Into<String>) -> Note {
        self.hint = Some(hint.into());
        self
    }
}

/// Where an `acknowledgements` option was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AckScope {
    Global,
    Sink,
    Source,
}

const ALWAYS_ACKNOWLEDGES: &str = "logbridge always acknowledges end to end: sources commit \
     positions and offsets, and push receivers answer, only once every sink holds the data";

/// `acknowledgements = true`, or `acknowledgements.enabled = BOOL` as
/// Vector takes them. logbridge acknowledges end to end whatever the
/// value, so a config asking for that gets nothing to read; one that turns
/// it off, or sets it on a source (where Vector ignores it too), gets a
/// warning saying what happens instead.
pub(crate) fn acknowledgements(value: &Json, scope: AckScope) -> Result<Option<Note>, Note> {
    let Some(enabled) = enabled_flag(value, "acknowledgements", &["enabled"])? else {
        return Ok(None);
    };
    let note = match (scope, enabled) {
        (AckScope::Source, _) => Note::new(
            &[],
            "`acknowledgements` on a source has no effect (Vector ignores it there too)",
        )
        .hint(ALWAYS_ACKNOWLEDGES),
        (_, true) => return Ok(None),
        (_, false) => Note::new(
            &["enabled"],
            "`acknowledgements.enabled = false` has no effect in logbridge",
        )
        .hint(format!(
            "{ALWAYS_ACKNOWLEDGES}; to have a push receiver (http, otlp, loki, ...) answer \
             before delivery, set its `receive.acknowledgements = false`"
        )),
    };
    Ok(Some(note))
}

/// A sink's `healthcheck` (`enabled`, `uri`): logbridge checks no
/// destination before starting, which is what `enabled = false` asks for;
/// asking for a check gets a warning saying where problems show instead.
pub(crate) fn healthcheck(value: &Json) -> Result<Option<Note>, Note> {
    // Vector checks unless told not to.
    let enabled = enabled_flag(value, "healthcheck", &["enabled", "uri"])?.unwrap_or(true);
    Ok(enabled.then(|| {
        Note::new(&[], "logbridge runs no health check before starting a sink").hint(
            "a sink that cannot reach its destination keeps retrying and shows on `/readyz` \
             with the reason; set `healthcheck.enabled = false` to silence this",
        )
    }))
}

/// `NAME = BOOL`, or a table with `enabled` and the other `keys`, as Vector
/// takes `acknowledgements` and `healthcheck`: the value of `enabled`,
/// `None` when a table leaves it out.
fn enabled_flag(value: &Json, name: &str, keys: &[&str]) -> Result<Option<bool>, Note> {
    let map = match value {
        Json::Bool(b) => return Ok(Some(*b)),
        Json::Object(map) => map,
        _ => {
            return Err(Note::new(
                &[],
                format!("`{name}` must be true, false or a table with `enabled`"),
            ));
        }
    };
    if let Some(key) = map.keys().find(|k| !keys.contains(&k.as_str())) {
        return Err(
            Note::new(&[key], format!("unknown option `{key}` in `{name}`"))
                .hint(format!("`{name}` takes {}", keys.join(", "))),
        );
    }
    match map.get("enabled") {
        None | Some(Json::Null) => Ok(None),
        Some(Json::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(Note::new(
            &["enabled"],
            format!("`{name}.enabled` must be true or false"),
        )),
    }
}

/// How inputs that are wildcards matching nothing are treated (Vector's
/// global `wildcard_matching`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum WildcardMatching {
    /// An error.
    #[default]
    Strict,
    /// A warning; the wildcard is ignored.
    Relaxed,
}

pub(crate) fn wildcard_matching(value: &Json) -> Result<WildcardMatching, Note> {
    match value.as_str() {
        Some("strict") => Ok(WildcardMatching::Strict),
        Some("relaxed") => Ok(WildcardMatching::Relaxed),
        _ => Err(Note::new(
            &[],
            "`wildcard_matching` must be \"strict\" or \"relaxed\"",
        )),
    }
}

/// Vector's global options logbridge has no counterpart for, with what to
/// do instead.
const VECTOR_GLOBALS: &[(&str, &str)] = &[
    (
        "timezone",
        "logbridge renders times in UTC; remove it (strftime paths and keys use the event's time in UTC)",
    ),
    (
        "healthchecks",
        "logbridge runs no health checks before starting; problems show on `/readyz`",
    ),
    (
        "schema",
        "logbridge's events follow the OpenTelemetry data model; there is no log namespace to choose",
    ),
    (
        "log_schema",
        "logbridge's events follow the OpenTelemetry data model: `.message` is the body, `%timestamp` the time",
    ),
    (
        "secret",
        "logbridge reads secrets from the environment: write `${NAME}` where the value goes",
    ),
    (
        "expire_metrics_secs",
        "logbridge keeps its own metrics for the life of the process",
    ),
    (
        "proxy",
        "logbridge has no proxy option; HTTP clients connect directly",
    ),
    (
        "telemetry",
        "logbridge's own metrics are on the admin server's `/debug/metrics`",
    ),
    ("enterprise", "logbridge reports to no external service"),
    (
        "provider",
        "logbridge reads its config from files (`-c`), or builds one from pipeline flags",
    ),
    (
        "graceful_shutdown_duration",
        "use `shutdown_timeout_secs` (seconds, default 30)",
    ),
];

/// The hint for a Vector global option logbridge lacks, if `key` is one.
pub(crate) fn unsupported_global(key: &str) -> Option<&'static str> {
    VECTOR_GLOBALS
        .iter()
        .find(|(name, _)| *name == key)
        .map(|(_, hint)| *hint)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn acknowledgements_forms() {
        assert_eq!(acknowledgements(&json!(true), AckScope::Sink), Ok(None));
        assert_eq!(
            acknowledgements(&json!({"enabled": true}), AckScope::Global),
            Ok(None)
        );
        let off = acknowledgements(&json!({"enabled": false}), AckScope::Sink)
            .unwrap()
            .unwrap();
        assert!(off.message.contains("no effect"), "{off:?}");
        assert!(
            acknowledgements(&json!({"enabled": true}), AckScope::Source)
                .unwrap()
                .is_some()
        );
        assert!(acknowledgements(&json!({"enabld": true}), AckScope::Sink).is_err());
        assert!(acknowledgements(&json!("yes"), AckScope::Sink).is_err());
    }

    #[test]
    fn healthcheck_forms() {
        assert_eq!(healthcheck(&json!({"enabled": false})), Ok(None));
        assert!(healthcheck(&json!({"enabled": true})).unwrap().is_some());
        assert!(healthcheck(&json!({"uri": "http://x"})).unwrap().is_some());
        assert!(healthcheck(&json!({"timeout": 1})).is_err());
    }
}
