//! The list of component types a config may name. Adding a component means
//! adding a line here; the config, topology and admin crates take this
//! list as a parameter and know no component themselves. Types behind a
//! cargo feature are listed only when it is built in; those left out are
//! listed with their feature, so a config naming one is told what to build.

use logbridge_component::{SinkConfig, SourceConfig, TransformConfig};
use logbridge_config::{ComponentType, LeftOut, Registry};

/// Every component type this binary is built with.
pub(crate) static COMPONENTS: Registry = Registry {
    sources: SOURCES,
    transforms: TRANSFORMS,
    sinks: SINKS,
    left_out: LEFT_OUT,
    vector_components: crate::vector::COMPONENTS,
    vector_options: crate::vector::OPTIONS,
};

/// The types this build leaves out, so that a config naming one is told
/// which feature builds it in.
static LEFT_OUT: &[LeftOut] = &[
    #[cfg(not(feature = "vrl"))]
    LeftOut {
        name: "remap",
        feature: "vrl",
    },
    #[cfg(not(feature = "kafka"))]
    LeftOut {
        name: "kafka",
        feature: "kafka",
    },
    #[cfg(not(feature = "s3"))]
    LeftOut {
        name: "aws_s3",
        feature: "s3",
    },
    #[cfg(not(feature = "redis"))]
    LeftOut {
        name: "redis_stream",
        feature: "redis",
    },
    #[cfg(not(feature = "otlp-grpc"))]
    LeftOut {
        name: "otlp",
        feature: "otlp-grpc",
    },
    #[cfg(not(feature = "otlp-grpc"))]
    LeftOut {
        name: "opentelemetry",
        feature: "otlp-grpc",
    },
    #[cfg(not(feature = "rules"))]
    LeftOut {
        name: "rules",
        feature: "rules",
    },
    #[cfg(not(feature = "rules"))]
    LeftOut {
        name: "alertmanager",
        feature: "rules",
    },
    #[cfg(not(feature = "prometheus"))]
    LeftOut {
        name: "prometheus_scrape",
        feature: "prometheus",
    },
    #[cfg(not(feature = "prometheus"))]
    LeftOut {
        name: "prometheus_remote_write",
        feature: "prometheus",
    },
    #[cfg(not(feature = "prometheus"))]
    LeftOut {
        name: "prometheus_exporter",
        feature: "prometheus",
    },
    #[cfg(not(feature = "loki"))]
    LeftOut {
        name: "loki",
        feature: "loki",
    },
    #[cfg(not(feature = "traces"))]
    LeftOut {
        name: "jaeger",
        feature: "traces",
    },
    #[cfg(not(feature = "traces"))]
    LeftOut {
        name: "zipkin",
        feature: "traces",
    },
    #[cfg(not(feature = "http"))]
    LeftOut {
        name: "http",
        feature: "http",
    },
    #[cfg(not(feature = "syslog"))]
    LeftOut {
        name: "syslog",
        feature: "syslog",
    },
];

static SOURCES: &[ComponentType<dyn SourceConfig>] = &[
    ComponentType::source::<logbridge_sources::demo::DemoConfig>("demo"),
    // Vector's name for the same source.
    ComponentType::source::<logbridge_sources::demo::DemoConfig>("demo_logs"),
    ComponentType::source::<logbridge_sources::file::FileConfig>("file"),
    #[cfg(feature = "http")]
    ComponentType::source::<logbridge_sources::http::HttpSourceConfig>("http"),
    ComponentType::source::<logbridge_sources::internal_metrics::InternalMetricsConfig>(
        "internal_metrics",
    ),
    #[cfg(feature = "traces")]
    ComponentType::source::<logbridge_sources::jaeger::JaegerSourceConfig>("jaeger"),
    #[cfg(feature = "kafka")]
    ComponentType::source::<logbridge_sources::kafka::KafkaSourceConfig>("kafka"),
    #[cfg(feature = "loki")]
    ComponentType::source::<logbridge_sources::loki::LokiSourceConfig>("loki"),
    // Vector's name for the same source.
    #[cfg(feature = "otlp-grpc")]
    ComponentType::source::<logbridge_sources::otlp::OtlpSourceConfig>("opentelemetry"),
    #[cfg(feature = "otlp-grpc")]
    ComponentType::source::<logbridge_sources::otlp::OtlpSourceConfig>("otlp"),
    #[cfg(feature = "prometheus")]
    ComponentType::source::<
        logbridge_sources::prometheus_remote_write::PrometheusRemoteWriteSourceConfig,
    >("prometheus_remote_write"),
    #[cfg(feature = "prometheus")]
    ComponentType::source::<logbridge_sources::prometheus_scrape::PrometheusScrapeConfig>(
        "prometheus_scrape",
    ),
    ComponentType::source::<logbridge_sources::stdin::StdinConfig>("stdin"),
    #[cfg(feature = "syslog")]
    ComponentType::source::<logbridge_sources::syslog::SyslogSourceConfig>("syslog"),
    #[cfg(feature = "traces")]
    ComponentType::source::<logbridge_sources::zipkin::ZipkinSourceConfig>("zipkin"),
];

static TRANSFORMS: &[ComponentType<dyn TransformConfig>] = &[
    ComponentType::transform::<logbridge_transforms::aggregate::AggregateConfig>("aggregate"),
    ComponentType::transform::<logbridge_transforms::dedupe::DedupeConfig>("dedupe"),
    ComponentType::transform::<logbridge_transforms::filter::FilterConfig>("filter"),
    ComponentType::transform::<logbridge_transforms::log_to_metric::LogToMetricConfig>(
        "log_to_metric",
    ),
    ComponentType::transform::<logbridge_transforms::metric_to_log::MetricToLogConfig>(
        "metric_to_log",
    ),
    ComponentType::transform::<logbridge_transforms::modify::ModifyConfig>("modify"),
    ComponentType::transform::<logbridge_transforms::parse::ParseConfig>("parse"),
    ComponentType::transform::<logbridge_transforms::reduce::ReduceConfig>("reduce"),
    #[cfg(feature = "vrl")]
    ComponentType::transform::<logbridge_transforms::remap::RemapConfig>("remap"),
    ComponentType::transform::<logbridge_transforms::route::RouteConfig>("route"),
    #[cfg(feature = "rules")]
    ComponentType::transform::<logbridge_transforms::rules::RulesTransformConfig>("rules"),
    ComponentType::transform::<logbridge_transforms::sample::SampleConfig>("sample"),
    ComponentType::transform::<logbridge_transforms::service_graph::ServiceGraphConfig>(
        "service_graph",
    ),
    ComponentType::transform::<logbridge_transforms::span_metrics::SpanMetricsConfig>(
        "span_metrics",
    ),
    ComponentType::transform::<logbridge_transforms::tail_sample::TailSampleConfig>("tail_sample"),
    ComponentType::transform::<logbridge_transforms::throttle::ThrottleConfig>("throttle"),
];

static SINKS: &[ComponentType<dyn SinkConfig>] = &[
    #[cfg(feature = "rules")]
    ComponentType::sink::<logbridge_sinks::alertmanager::AlertmanagerSinkConfig>("alertmanager"),
    #[cfg(feature = "s3")]
    ComponentType::sink::<logbridge_sinks::aws_s3::S3SinkConfig>("aws_s3"),
    ComponentType::sink::<logbridge_sinks::blackhole::BlackholeConfig>("blackhole"),
    ComponentType::sink::<logbridge_sinks::console::ConsoleConfig>("console"),
    ComponentType::sink::<logbridge_sinks::file::FileSinkConfig>("file"),
    #[cfg(feature = "kafka")]
    ComponentType::sink::<logbridge_sinks::kafka::KafkaSinkConfig>("kafka"),
    #[cfg(feature = "loki")]
    ComponentType::sink::<logbridge_sinks::loki::LokiSinkConfig>("loki"),
    #[cfg(feature = "otlp-grpc")]
    ComponentType::sink::<logbridge_sinks::otlp::OtlpSinkConfig>("otlp"),
    #[cfg(feature = "prometheus")]
    ComponentType::sink::<logbridge_sinks::prometheus_exporter::PrometheusExporterConfig>(
        "prometheus_exporter",
    ),
    #[cfg(feature = "prometheus")]
    ComponentType::sink::<logbridge_sinks::prometheus_remote_write::PrometheusRemoteWriteSinkConfig>(
        "prometheus_remote_write",
    ),
    #[cfg(feature = "redis")]
    ComponentType::sink::<logbridge_sinks::redis_stream::RedisStreamSinkConfig>("redis_stream"),
];
