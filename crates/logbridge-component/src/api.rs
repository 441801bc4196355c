//! Views that components publish for the admin server's JSON API, so that
//! the admin server needs to know nothing about the components themselves.

/// What a rules engine shows under `/api/v1/rules` and `/api/v1/alerts`,
/// in the shapes of Prometheus' HTTP API.
pub trait RulesView: Send + Sync {
    /// The rule groups: objects as in Prometheus' `data.groups[]`.
    fn rule_groups(&self) -> Vec<serde_json::Value>;
    /// The pending and firing alerts: objects as in `data.alerts[]`.
    fn alerts(&self) -> Vec<serde_json::Value>;
}
