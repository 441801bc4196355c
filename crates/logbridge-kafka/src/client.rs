//! What the source and the sink share: building librdkafka's config from
//! ours, and routing librdkafka's logs and errors into `tracing` and the
//! component's health.

use std::collections::BTreeMap;
use std::sync::Arc;

use logbridge_component::BuildError;
use logbridge_component::telemetry::{ComponentMetrics, RateLimit};
use rdkafka::ClientConfig;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use tracing::{debug, error, info, warn};

/// `bootstrap_servers` checked for shape: `host:port[,host:port...]`.
pub fn validate_bootstrap(servers: &str) -> Result<(), BuildError> {
    let ok = !servers.trim().is_empty()
        && servers.split(',').all(|s| {
            let s = s.trim();
            s.rsplit_once(':')
                .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok())
        });
    if ok {
        Ok(())
    } else {
        Err(BuildError::new(
            "bootstrap_servers",
            format!("`{servers}` is not a list of host:port"),
        )
        .with_hint("e.g. `127.0.0.1:9092` or `k1:9092,k2:9092`"))
    }
}

/// Our settings first, then the user's `librdkafka_options`, refusing the
/// keys in `fixed` (set by logbridge because delivery depends on them).
pub fn client_config(
    ours: &[(&str, String)],
    user: &BTreeMap<String, String>,
    fixed: &[&str],
) -> Result<ClientConfig, BuildError> {
    let mut config = ClientConfig::new();
    for (key, value) in ours {
        config.set(*key, value);
    }
    for (key, value) in user {
        if fixed.contains(&key.as_str()) {
            return Err(BuildError::new(
                "librdkafka_options",
                format!("`{key}` is set by logbridge and cannot be changed"),
            )
            .with_hint("delivery guarantees depend on it; remove it from librdkafka_options"));
        }
        config.set(key, value);
    }
    config.set_log_level(RDKafkaLogLevel::Info);
    Ok(config)
}

/// Forwards librdkafka's logs and errors; marks the component unhealthy
/// while no broker is reachable.
pub struct Reporter {
    pub metrics: Arc<ComponentMetrics>,
    pub bootstrap: String,
    warn_limit: RateLimit,
}

impl Reporter {
    pub fn new(metrics: Arc<ComponentMetrics>, bootstrap: String) -> Reporter {
        Reporter {
            metrics,
            bootstrap,
            warn_limit: RateLimit::default(),
        }
    }

    pub fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        match level {
            RDKafkaLogLevel::Emerg
            | RDKafkaLogLevel::Alert
            | RDKafkaLogLevel::Critical
            | RDKafkaLogLevel::Error => {
                if self.warn_limit.allow() {
                    error!(message = "librdkafka.", facility, detail = message);
                }
            }
            RDKafkaLogLevel::Warning => {
                if self.warn_limit.allow() {
                    warn!(message = "librdkafka.", facility, detail = message);
                }
            }
            RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => {
                info!(message = "librdkafka.", facility, detail = message)
            }
            RDKafkaLogLevel::Debug => debug!(message = "librdkafka.", facility, detail = message),
        }
    }

    pub fn error(&self, error: KafkaError, reason: &str) {
        self.metrics.add_error();
        if error.rdkafka_error_code() == Some(RDKafkaErrorCode::AllBrokersDown) {
            self.brokers_up(false);
        }
        if self.warn_limit.allow() {
            warn!(message = "Kafka client error.", %error, reason);
        }
    }

    /// A broker answered: the component is healthy again.
    pub fn brokers_up(&self, up: bool) {
        if up {
            self.metrics.set_problem(None);
        } else {
            self.metrics.set_problem(Some(format!(
                "no Kafka broker of `{}` is reachable",
                self.bootstrap
            )));
        }
    }
}

/// Whether librdkafka's statistics show a connected broker.
pub fn any_broker_up(stats: &rdkafka::Statistics) -> bool {
    stats
        .brokers
        .values()
        .any(|b| b.nodeid >= 0 && b.state == "UP")
}
