//! The list of component types a config may name. Adding a component means
//! adding a line here; the config, topology and admin crates take this
//! list as a parameter and know no component themselves.

use logbridge_component::{SinkConfig, SourceConfig, TransformConfig};
use logbridge_config::{ComponentType, Registry};

/// Every component type this binary is built with.
pub(crate) static COMPONENTS: Registry = Registry {
    sources: SOURCES,
    transforms: TRANSFORMS,
    sinks: SINKS,
};

static SOURCES: &[ComponentType<dyn SourceConfig>] = &[
    ComponentType::source::<logbridge_sources::demo::DemoConfig>("demo"),
    ComponentType::source::<logbridge_sources::file::FileConfig>("file"),
    ComponentType::source::<logbridge_net::HttpSourceConfig>("http"),
    ComponentType::source::<logbridge_sources::internal_metrics::InternalMetricsConfig>(
        "internal_metrics",
    ),
    ComponentType::source::<logbridge_net::JaegerSourceConfig>("jaeger"),
    ComponentType::source::<logbridge_kafka::KafkaSourceConfig>("kafka"),
    ComponentType::source::<logbridge_net::LokiSourceConfig>("loki"),
    // Vector's name for the same source.
    ComponentType::source::<logbridge_net::OtlpSourceConfig>("opentelemetry"),
    ComponentType::source::<logbridge_net::OtlpSourceConfig>("otlp"),
    ComponentType::source::<logbridge_net::PrometheusRemoteWriteSourceConfig>(
        "prometheus_remote_write",
    ),
    ComponentType::source::<logbridge_net::PrometheusScrapeConfig>("prometheus_scrape"),
    ComponentType::source::<logbridge_sources::stdin::StdinConfig>("stdin"),
    ComponentType::source::<logbridge_net::SyslogSourceConfig>("syslog"),
    ComponentType::source::<logbridge_net::ZipkinSourceConfig>("zipkin"),
];

static TRANSFORMS: &[ComponentType<dyn TransformConfig>] = &[
    ComponentType::transform::<logbridge_transforms::filter::FilterConfig>("filter"),
    ComponentType::transform::<logbridge_transforms::modify::ModifyConfig>("modify"),
    ComponentType::transform::<logbridge_transforms::parse::ParseConfig>("parse"),
    ComponentType::transform::<logbridge_transforms::route::RouteConfig>("route"),
    ComponentType::transform::<logbridge_ruler::RulesTransformConfig>("rules"),
];

static SINKS: &[ComponentType<dyn SinkConfig>] = &[
    ComponentType::sink::<logbridge_net::AlertmanagerSinkConfig>("alertmanager"),
    ComponentType::sink::<logbridge_sinks::aws_s3::S3SinkConfig>("aws_s3"),
    ComponentType::sink::<logbridge_sinks::blackhole::BlackholeConfig>("blackhole"),
    ComponentType::sink::<logbridge_sinks::console::ConsoleConfig>("console"),
    ComponentType::sink::<logbridge_sinks::file::FileSinkConfig>("file"),
    ComponentType::sink::<logbridge_kafka::KafkaSinkConfig>("kafka"),
    ComponentType::sink::<logbridge_net::LokiSinkConfig>("loki"),
    ComponentType::sink::<logbridge_net::OtlpSinkConfig>("otlp"),
    ComponentType::sink::<logbridge_net::PrometheusExporterConfig>("prometheus_exporter"),
    ComponentType::sink::<logbridge_net::PrometheusRemoteWriteSinkConfig>(
        "prometheus_remote_write",
    ),
    ComponentType::sink::<logbridge_net::RedisStreamSinkConfig>("redis_stream"),
];
