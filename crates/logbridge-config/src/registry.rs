//! The explicit list of component types: name, how to parse its options and
//! its schema (for the generated config reference). Adding a component
//! means adding a line here, nothing else.

use logbridge_component::{SinkConfig, SourceConfig, TransformConfig};
use serde::de::DeserializeOwned;

pub type ParseError = serde_path_to_error::Error<serde_json::Error>;

/// One component type.
pub struct ComponentType<C: ?Sized> {
    pub name: &'static str,
    pub parse: fn(serde_json::Value) -> Result<Box<C>, ParseError>,
    pub schema: fn() -> schemars::Schema,
}

fn parse_source<T: DeserializeOwned + SourceConfig + 'static>(
    v: serde_json::Value,
) -> Result<Box<dyn SourceConfig>, ParseError> {
    serde_path_to_error::deserialize(v).map(|c: T| Box::new(c) as Box<dyn SourceConfig>)
}

fn parse_transform<T: DeserializeOwned + TransformConfig + 'static>(
    v: serde_json::Value,
) -> Result<Box<dyn TransformConfig>, ParseError> {
    serde_path_to_error::deserialize(v).map(|c: T| Box::new(c) as Box<dyn TransformConfig>)
}

fn parse_sink<T: DeserializeOwned + SinkConfig + 'static>(
    v: serde_json::Value,
) -> Result<Box<dyn SinkConfig>, ParseError> {
    serde_path_to_error::deserialize(v).map(|c: T| Box::new(c) as Box<dyn SinkConfig>)
}

fn schema<T: schemars::JsonSchema>() -> schemars::Schema {
    schemars::schema_for!(T)
}

macro_rules! source {
    ($name:literal, $t:ty) => {
        ComponentType {
            name: $name,
            parse: parse_source::<$t>,
            schema: schema::<$t>,
        }
    };
}
macro_rules! transform {
    ($name:literal, $t:ty) => {
        ComponentType {
            name: $name,
            parse: parse_transform::<$t>,
            schema: schema::<$t>,
        }
    };
}
macro_rules! sink {
    ($name:literal, $t:ty) => {
        ComponentType {
            name: $name,
            parse: parse_sink::<$t>,
            schema: schema::<$t>,
        }
    };
}

pub static SOURCES: &[ComponentType<dyn SourceConfig>] = &[
    source!("demo", logbridge_sources::demo::DemoConfig),
    source!("file", logbridge_sources::file::FileConfig),
    source!("http", logbridge_sources::http::HttpSourceConfig),
    source!(
        "internal_metrics",
        logbridge_sources::internal_metrics::InternalMetricsConfig
    ),
    source!("jaeger", logbridge_sources::jaeger::JaegerSourceConfig),
    source!("kafka", logbridge_sources::kafka::KafkaSourceConfig),
    source!("loki", logbridge_sources::loki::LokiSourceConfig),
    // Vector's name for the same source.
    source!("opentelemetry", logbridge_sources::otlp::OtlpSourceConfig),
    source!("otlp", logbridge_sources::otlp::OtlpSourceConfig),
    source!(
        "prometheus_remote_write",
        logbridge_sources::prometheus_remote_write::PrometheusRemoteWriteSourceConfig
    ),
    source!(
        "prometheus_scrape",
        logbridge_sources::prometheus_scrape::PrometheusScrapeConfig
    ),
    source!("stdin", logbridge_sources::stdin::StdinConfig),
    source!("syslog", logbridge_sources::syslog::SyslogSourceConfig),
    source!("zipkin", logbridge_sources::zipkin::ZipkinSourceConfig),
];

pub static TRANSFORMS: &[ComponentType<dyn TransformConfig>] = &[
    transform!("filter", logbridge_transforms::filter::FilterConfig),
    transform!("modify", logbridge_transforms::modify::ModifyConfig),
    transform!("parse", logbridge_transforms::parse::ParseConfig),
    transform!("route", logbridge_transforms::route::RouteConfig),
    transform!("rules", logbridge_transforms::rules::RulesTransformConfig),
];

pub static SINKS: &[ComponentType<dyn SinkConfig>] = &[
    sink!(
        "alertmanager",
        logbridge_sinks::alertmanager::AlertmanagerSinkConfig
    ),
    sink!("aws_s3", logbridge_sinks::aws_s3::S3SinkConfig),
    sink!("blackhole", logbridge_sinks::blackhole::BlackholeConfig),
    sink!("console", logbridge_sinks::console::ConsoleConfig),
    sink!("file", logbridge_sinks::file::FileSinkConfig),
    sink!("kafka", logbridge_sinks::kafka::KafkaSinkConfig),
    sink!("loki", logbridge_sinks::loki::LokiSinkConfig),
    sink!("otlp", logbridge_sinks::otlp::OtlpSinkConfig),
    sink!(
        "prometheus_exporter",
        logbridge_sinks::prometheus_exporter::PrometheusExporterConfig
    ),
    sink!(
        "prometheus_remote_write",
        logbridge_sinks::prometheus_remote_write::PrometheusRemoteWriteSinkConfig
    ),
    sink!(
        "redis_stream",
        logbridge_sinks::redis_stream::RedisStreamSinkConfig
    ),
];

pub fn find<C: ?Sized>(
    list: &'static [ComponentType<C>],
    name: &str,
) -> Option<&'static ComponentType<C>> {
    list.iter().find(|t| t.name == name)
}

pub fn names<C: ?Sized>(list: &'static [ComponentType<C>]) -> Vec<&'static str> {
    list.iter().map(|t| t.name).collect()
}
