//! The global options of a config file: `data_dir`,
//! `shutdown_timeout_secs`, `[admin]`, and Vector's `[api]`,
//! `acknowledgements` and `wildcard_matching`, parsed into what the
//! loader applies. Must not know about components or files: the loader
//! places each problem at its line.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde_json::Value as Json;

use crate::model::AdminConfig;
use crate::vector::{self, AckScope, Note, WildcardMatching};

/// Every global option a config file may set.
pub(crate) const KEYS: [&str; 9] = [
    "data_dir",
    "admin",
    "api",
    "acknowledgements",
    "wildcard_matching",
    "shutdown_timeout_secs",
    "sources",
    "transforms",
    "sinks",
];

/// A parsed global option.
pub(crate) enum Global {
    DataDir(PathBuf),
    ShutdownTimeoutSecs(u64),
    /// From `[admin]` or from Vector's `[api]`.
    Admin(AdminConfig),
    /// Nothing to apply (`acknowledgements`: logbridge always acknowledges).
    Accepted,
    WildcardMatching(WildcardMatching),
}

/// Parses global option `key`; notes worth a warning go to `warnings`.
pub(crate) fn parse(key: &str, value: Json, warnings: &mut Vec<Note>) -> Result<Global, Note> {
    match key {
        "data_dir" => match value {
            Json::String(s) if !s.is_empty() => Ok(Global::DataDir(PathBuf::from(s))),
            _ => Err(Note::new(&[], "data_dir must be a non-empty path")),
        },
        "shutdown_timeout_secs" => {
            value
                .as_u64()
                .map(Global::ShutdownTimeoutSecs)
                .ok_or_else(|| {
                    Note::new(
                        &[],
                        "shutdown_timeout_secs must be a whole number of seconds",
                    )
                })
        }
        "admin" => parse_admin(value).map(Global::Admin),
        "api" => parse_api(value, warnings).map(Global::Admin),
        "acknowledgements" => {
            warnings.extend(vector::acknowledgements(&value, AckScope::Global)?);
            Ok(Global::Accepted)
        }
        "wildcard_matching" => vector::wildcard_matching(&value).map(Global::WildcardMatching),
        other => Err(Note::new(&[], format!("unknown option `{other}`"))),
    }
}

fn parse_address(key: &str, text: &str) -> Result<SocketAddr, Note> {
    text.parse().map_err(|_| {
        Note::new(
            &["address"],
            format!("`{text}` is not an address (expected IP:PORT, e.g. 127.0.0.1:8080)"),
        )
        .hint(format!("`{key}.address` takes an IP address and a port"))
    })
}

fn parse_admin(value: Json) -> Result<AdminConfig, Note> {
    let Json::Object(map) = value else {
        return Err(Note::new(&[], "[admin] must be a table"));
    };
    let mut admin = AdminConfig::default();
    for (k, v) in map {
        match (k.as_str(), v) {
            ("enabled", Json::Bool(b)) => admin.enabled = b,
            ("address", Json::String(s)) => admin.address = parse_address("admin", &s)?,
            ("enabled" | "address", _) => {
                return Err(Note::new(&[&k], format!("invalid value for admin.{k}")));
            }
            (other, _) => {
                return Err(Note::new(
                    &[other],
                    format!("unknown option `{other}` in [admin] (expected enabled, address)"),
                ));
            }
        }
    }
    Ok(admin)
}

/// Vector's API listens here unless told otherwise.
const VECTOR_API_ADDRESS: ([u8; 4], u16) = ([127, 0, 0, 1], 8686);

/// Vector's `[api]`, served by the admin server with Vector's defaults:
/// off unless `enabled = true`, on 127.0.0.1:8686. The admin server is no
/// GraphQL API: asking for `graphql` or `playground` gets a warning saying
/// what it serves instead.
fn parse_api(value: Json, warnings: &mut Vec<Note>) -> Result<AdminConfig, Note> {
    let Json::Object(map) = value else {
        return Err(Note::new(&[], "[api] must be a table"));
    };
    let mut admin = AdminConfig {
        enabled: false,
        address: SocketAddr::from(VECTOR_API_ADDRESS),
    };
    let mut graphql_asked = Vec::new();
    for (k, v) in map {
        match (k.as_str(), v) {
            ("enabled", Json::Bool(b)) => admin.enabled = b,
            ("address", Json::String(s)) => admin.address = parse_address("api", &s)?,
            ("graphql" | "playground", Json::Bool(b)) => {
                if b {
                    graphql_asked.push(k);
                }
            }
            ("enabled" | "graphql" | "playground", _) => {
                return Err(Note::new(&[&k], format!("api.{k} must be true or false")));
            }
            ("address", _) => {
                return Err(Note::new(&[&k], "api.address must be a string (IP:PORT)"));
            }
            (other, _) => {
                return Err(
                    Note::new(&[other], format!("unknown option `{other}` in [api]"))
                        .hint("[api] takes enabled, address, graphql and playground"),
                );
            }
        }
    }
    if admin.enabled {
        for k in graphql_asked {
            warnings.push(
                Note::new(
                    &[&k],
                    format!("logbridge has no GraphQL API; `api.{k}` has no effect"),
                )
                .hint(format!(
                    "the admin server answers /health, /healthz, /readyz, /debug/metrics \
                         (Prometheus text) and /api/v1/topology (JSON); set `api.{k} = false` \
                         to silence this"
                )),
            );
        }
    }
    Ok(admin)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn api(value: Json) -> (Result<AdminConfig, Note>, Vec<Note>) {
        let mut warnings = Vec::new();
        (parse_api(value, &mut warnings), warnings)
    }

    #[test]
    fn api_takes_vector_defaults() {
        let (a, w) = api(json!({}));
        let a = a.unwrap();
        assert!(!a.enabled);
        assert_eq!(a.address.to_string(), "127.0.0.1:8686");
        assert!(w.is_empty());
        let (a, w) = api(json!({"enabled": true, "address": "0.0.0.0:9000", "playground": false}));
        assert!(a.as_ref().unwrap().enabled);
        assert_eq!(a.unwrap().address.to_string(), "0.0.0.0:9000");
        assert!(w.is_empty());
    }

    #[test]
    fn graphql_is_a_warning_and_unknown_options_an_error() {
        let (a, w) = api(json!({"enabled": true, "playground": true}));
        assert!(a.is_ok());
        assert_eq!(w.len(), 1);
        assert!(w[0].message.contains("no GraphQL"), "{:?}", w[0]);
        assert!(
            w[0].hint
                .as_deref()
                .unwrap()
                .contains("`api.playground = false`")
        );
        let (a, _) = api(json!({"enabled": true, "cors": true}));
        assert_eq!(a.unwrap_err().at, ["cors"]);
        let (a, _) = api(json!({"address": "/run/vector.sock"}));
        assert!(a.unwrap_err().message.contains("not an address"));
    }
}
