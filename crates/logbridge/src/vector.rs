//! What Vector has that logbridge does not: component types, and options
//! of component types both have, each with what to do instead. The config
//! loader consults these only for a type or option it does not know, so a
//! Vector config that uses one gets "logbridge has no `lua` transform" or
//! "`multiline` is a Vector option of `file` that logbridge does not
//! support", at its line, with the hint. Data only.

use logbridge_component::telemetry::ComponentKind::{self, Sink, Source, Transform};
use logbridge_config::{VectorComponent, VectorOption};

const fn c(kind: ComponentKind, name: &'static str, instead: &'static str) -> VectorComponent {
    VectorComponent {
        kind,
        name,
        instead,
    }
}

const fn o(type_name: &'static str, option: &'static str, hint: &'static str) -> VectorOption {
    VectorOption {
        type_name,
        option,
        hint,
    }
}

const OTLP_BETWEEN: &str = "between logbridge instances, or from OpenTelemetry SDKs and \
     collectors, use the `otlp` source and sink";
const MODIFY: &str = "the closest is the `modify` transform (rename, convert, set and remove \
     fields)";
const PARSE: &str = "the closest is the `parse` transform (format = json, logfmt, regex or \
     syslog)";

/// Vector component types logbridge does not have. Types logbridge has
/// under the same name are not here: the registry finds them first.
pub(crate) static COMPONENTS: &[VectorComponent] = &[
    // Sources.
    c(
        Source,
        "http_server",
        "use the `http` source (address, path, decoding, auth, tls)",
    ),
    c(Source, "http_client", ""),
    c(
        Source,
        "socket",
        "for syslog over TCP or UDP, use the `syslog` source",
    ),
    c(Source, "vector", OTLP_BETWEEN),
    c(Source, "fluent", ""),
    c(Source, "logstash", ""),
    c(Source, "splunk_hec", ""),
    c(Source, "datadog_agent", OTLP_BETWEEN),
    c(
        Source,
        "docker_logs",
        "read the container log files with the `file` source",
    ),
    c(
        Source,
        "kubernetes_logs",
        "read /var/log/pods/*/*/*.log with the `file` source",
    ),
    c(Source, "journald", ""),
    c(
        Source,
        "host_metrics",
        "scrape node_exporter with the `prometheus_scrape` source",
    ),
    c(Source, "internal_logs", ""),
    c(
        Source,
        "exec",
        "pipe the command's output into `logbridge` and use the `stdin` source",
    ),
    c(Source, "file_descriptor", "use the `stdin` source"),
    c(Source, "statsd", ""),
    c(Source, "dnstap", ""),
    c(
        Source,
        "nginx_metrics",
        "scrape an nginx exporter with the `prometheus_scrape` source",
    ),
    c(
        Source,
        "apache_metrics",
        "scrape an Apache exporter with the `prometheus_scrape` source",
    ),
    c(
        Source,
        "postgresql_metrics",
        "scrape a PostgreSQL exporter with the `prometheus_scrape` source",
    ),
    c(
        Source,
        "mongodb_metrics",
        "scrape a MongoDB exporter with the `prometheus_scrape` source",
    ),
    c(Source, "eventstoredb_metrics", ""),
    c(Source, "aws_ecs_metrics", ""),
    c(Source, "static_metrics", ""),
    c(
        Source,
        "redis",
        "logbridge writes Redis streams (the `redis_stream` sink) but does not read Redis",
    ),
    c(Source, "nats", ""),
    c(Source, "amqp", ""),
    c(Source, "mqtt", ""),
    c(Source, "pulsar", ""),
    c(Source, "gcp_pubsub", ""),
    c(
        Source,
        "aws_s3",
        "logbridge writes S3 (the `aws_s3` sink) but does not read it",
    ),
    c(Source, "aws_sqs", ""),
    c(Source, "aws_kinesis_firehose", ""),
    c(Source, "heroku_logs", "use the `http` source"),
    c(Source, "prometheus_pushgateway", ""),
    c(Source, "websocket", ""),
    c(Source, "windows_event_log", ""),
    c(
        Source,
        "generator",
        "Vector renamed it `demo_logs`, which logbridge has",
    ),
    // Transforms.
    c(
        Transform,
        "lua",
        "logbridge runs no scripts; `modify`, `parse`, `filter` and `route` cover field edits, parsing and routing",
    ),
    c(
        Transform,
        "aws_ec2_metadata",
        "not supported by logbridge; set static fields with the `modify` transform",
    ),
    c(Transform, "tag_cardinality_limit", ""),
    c(
        Transform,
        "exclusive_route",
        "use the `route` transform (its routes are not exclusive: an event goes to every route it matches)",
    ),
    c(Transform, "window", ""),
    c(Transform, "trace_to_log", ""),
    c(Transform, "incremental_to_absolute", ""),
    c(Transform, "wasm", ""),
    c(Transform, "geoip", ""),
    c(Transform, "add_fields", MODIFY),
    c(Transform, "remove_fields", MODIFY),
    c(Transform, "rename_fields", MODIFY),
    c(Transform, "coercer", MODIFY),
    c(Transform, "add_tags", MODIFY),
    c(Transform, "remove_tags", MODIFY),
    c(Transform, "json_parser", PARSE),
    c(Transform, "logfmt_parser", PARSE),
    c(Transform, "regex_parser", PARSE),
    c(Transform, "grok_parser", PARSE),
    c(Transform, "key_value_parser", PARSE),
    c(Transform, "tokenizer", PARSE),
    c(Transform, "split", PARSE),
    c(Transform, "ansi_stripper", ""),
    c(Transform, "concat", ""),
    c(Transform, "merge", ""),
    c(Transform, "swimlanes", "use the `route` transform"),
    c(Transform, "field_filter", "use the `filter` transform"),
    // Sinks.
    c(
        Sink,
        "opentelemetry",
        "use the `otlp` sink (protocol = \"grpc\" or \"http\")",
    ),
    c(Sink, "vector", OTLP_BETWEEN),
    c(
        Sink,
        "prometheus",
        "Vector renamed it `prometheus_exporter`, which logbridge has",
    ),
    c(
        Sink,
        "redis",
        "use the `redis_stream` sink (XADD to a stream)",
    ),
    c(
        Sink,
        "gcp_cloud_storage",
        "the `aws_s3` sink writes to any S3 API (`endpoint`)",
    ),
    c(Sink, "http", ""),
    c(Sink, "socket", ""),
    c(Sink, "elasticsearch", ""),
    c(Sink, "datadog_logs", ""),
    c(Sink, "datadog_metrics", ""),
    c(Sink, "datadog_events", ""),
    c(Sink, "datadog_traces", ""),
    c(Sink, "splunk_hec_logs", ""),
    c(Sink, "splunk_hec_metrics", ""),
    c(Sink, "clickhouse", ""),
    c(Sink, "aws_cloudwatch_logs", ""),
    c(Sink, "aws_cloudwatch_metrics", ""),
    c(Sink, "aws_kinesis_streams", ""),
    c(Sink, "aws_kinesis_firehose", ""),
    c(Sink, "aws_sqs", ""),
    c(Sink, "aws_sns", ""),
    c(Sink, "gcp_stackdriver_logs", ""),
    c(Sink, "gcp_stackdriver_metrics", ""),
    c(Sink, "gcp_pubsub", ""),
    c(Sink, "gcp_chronicle_unstructured", ""),
    c(Sink, "azure_blob", ""),
    c(Sink, "azure_monitor_logs", ""),
    c(Sink, "humio_logs", ""),
    c(Sink, "humio_metrics", ""),
    c(Sink, "influxdb_logs", ""),
    c(Sink, "influxdb_metrics", ""),
    c(Sink, "nats", ""),
    c(Sink, "new_relic", ""),
    c(Sink, "papertrail", ""),
    c(Sink, "pulsar", ""),
    c(Sink, "statsd", ""),
    c(Sink, "honeycomb", ""),
    c(Sink, "mezmo", ""),
    c(Sink, "appsignal", ""),
    c(Sink, "axiom", ""),
    c(Sink, "databend", ""),
    c(Sink, "greptimedb", ""),
    c(Sink, "amqp", ""),
    c(Sink, "mqtt", ""),
    c(Sink, "webhdfs", ""),
    c(Sink, "websocket", ""),
    c(Sink, "sematext_logs", ""),
    c(Sink, "sematext_metrics", ""),
];

const KAFKA_METADATA: &str = "logbridge keeps each record's key, topic, partition, offset and \
     headers as metadata (`%kafka.key`, `%kafka.topic`, ...); copy one into a field with \
     `modify`: rename = { \"%kafka.key\" = \".key\" }";
const LIBRDKAFKA: &str = "pass it to librdkafka in `librdkafka_options` (security.protocol, \
     sasl.mechanisms, sasl.username, ssl.ca.location, ...)";
const ONE_LINE: &str = "logbridge's line sinks write one event per line, as \
     `framing.method = \"newline_delimited\"` does; remove `framing`";

/// Options of Vector's components that logbridge's same-named component
/// does not take; `*` rows hold for any component.
pub(crate) static OPTIONS: &[VectorOption] = &[
    // file source
    o(
        "file",
        "start_at_beginning",
        "use read_from = \"beginning\"",
    ),
    o(
        "file",
        "ignore_older_secs",
        "not supported by logbridge: every matching file is read",
    ),
    o(
        "file",
        "ignore_older",
        "not supported by logbridge: every matching file is read",
    ),
    o(
        "file",
        "ignore_checkpoints",
        "not supported by logbridge; delete data_dir/<source>/checkpoints.json to read again from `read_from`",
    ),
    o(
        "file",
        "ignore_not_found",
        "not supported by logbridge: include patterns may match nothing yet",
    ),
    o(
        "file",
        "max_read_bytes",
        "not supported by logbridge: it reads files round-robin in bounded chunks",
    ),
    o(
        "file",
        "fingerprint",
        "not supported by logbridge: files are identified by device, inode and a checksum of their first line",
    ),
    o("file", "offset_key", "not supported by logbridge"),
    o(
        "file",
        "line_delimiter",
        "not supported by logbridge: lines end with \\n",
    ),
    o(
        "file",
        "multiline",
        "not supported by logbridge: each line is one event",
    ),
    o(
        "file",
        "oldest_first",
        "not supported by logbridge: files are read round-robin",
    ),
    o(
        "file",
        "remove_after_secs",
        "not supported by logbridge: files are never deleted",
    ),
    o(
        "file",
        "rotate_wait_secs",
        "not supported by logbridge: a rotated file is read to its end",
    ),
    o(
        "file",
        "encoding",
        "not supported by logbridge: files are read as UTF-8",
    ),
    o(
        "file",
        "data_dir",
        "use the global `data_dir`: checkpoints go to data_dir/<source>",
    ),
    o("file", "internal_metrics", "not supported by logbridge"),
    // stdin
    o("stdin", "max_length", "use max_line_bytes"),
    o("stdin", "host_key", "not supported by logbridge"),
    o(
        "stdin",
        "decoding",
        "parse lines with the `parse` transform",
    ),
    o(
        "stdin",
        "framing",
        "lines end with \\n; not supported by logbridge",
    ),
    // syslog
    o("syslog", "connection_limit", "use max_connections"),
    o(
        "syslog",
        "host_key",
        "not supported by logbridge: the host is in the parsed `hostname`",
    ),
    o(
        "syslog",
        "keepalive",
        "not supported by logbridge; idle connections close after idle_timeout_secs",
    ),
    o(
        "syslog",
        "path",
        "logbridge listens on TCP or UDP only (mode = \"tcp\" or \"udp\")",
    ),
    o("syslog", "permit_origin", "not supported by logbridge"),
    o(
        "syslog",
        "socket_file_mode",
        "logbridge listens on TCP or UDP only",
    ),
    // kafka
    o("kafka", "key_field", KAFKA_METADATA),
    o("kafka", "topic_key", KAFKA_METADATA),
    o("kafka", "partition_key", KAFKA_METADATA),
    o("kafka", "offset_key", KAFKA_METADATA),
    o("kafka", "headers_key", KAFKA_METADATA),
    o("kafka", "sasl", LIBRDKAFKA),
    o("kafka", "tls", LIBRDKAFKA),
    o("kafka", "socket_timeout_ms", LIBRDKAFKA),
    o("kafka", "fetch_wait_max_ms", LIBRDKAFKA),
    o(
        "kafka",
        "healthcheck_topic",
        "logbridge runs no health check before starting a sink",
    ),
    o(
        "kafka",
        "framing",
        "each record is one event; not supported by logbridge",
    ),
    o(
        "kafka",
        "metrics",
        "per-partition lag is always in `logbridge_kafka_consumer_lag`",
    ),
    // prometheus
    o(
        "prometheus_scrape",
        "instance_tag",
        "logbridge adds `instance` and `job` labels as Prometheus does",
    ),
    o(
        "prometheus_scrape",
        "endpoint_tag",
        "logbridge adds `instance` and `job` labels as Prometheus does",
    ),
    o(
        "prometheus_scrape",
        "query",
        "put the query string in the endpoint URL",
    ),
    o(
        "prometheus_exporter",
        "suppress_timestamp",
        "use timestamps = false",
    ),
    o(
        "prometheus_exporter",
        "default_namespace",
        "not supported by logbridge: metric names are kept as they are",
    ),
    o(
        "prometheus_exporter",
        "buckets",
        "not supported by logbridge: histograms keep their own buckets",
    ),
    o(
        "prometheus_exporter",
        "quantiles",
        "not supported by logbridge: summaries keep their own quantiles",
    ),
    o(
        "prometheus_exporter",
        "distributions_as_summaries",
        "not supported by logbridge",
    ),
    // loki
    o(
        "loki",
        "out_of_order_action",
        "not supported by logbridge: Loki accepts out-of-order writes since 2.4",
    ),
    o(
        "loki",
        "remove_label_fields",
        "not supported by logbridge: fields used in labels stay in the line",
    ),
    o("loki", "remove_timestamp", "not supported by logbridge"),
    o(
        "loki",
        "path",
        "not supported by logbridge: it pushes to /loki/api/v1/push on `endpoint`",
    ),
    // aws_s3
    o(
        "aws_s3",
        "filename_append_uuid",
        "not supported by logbridge: object names are unique by time and sequence (and by offsets for Kafka records)",
    ),
    o(
        "aws_s3",
        "filename_time_format",
        "not supported by logbridge; put strftime fields in key_prefix",
    ),
    o(
        "aws_s3",
        "acl",
        "not supported by logbridge: set a bucket policy instead",
    ),
    o(
        "aws_s3",
        "storage_class",
        "not supported by logbridge: use a bucket lifecycle rule",
    ),
    o(
        "aws_s3",
        "server_side_encryption",
        "not supported by logbridge: set the bucket's default encryption",
    ),
    o(
        "aws_s3",
        "ssekms_key_id",
        "not supported by logbridge: set the bucket's default encryption",
    ),
    o("aws_s3", "tags", "not supported by logbridge"),
    o("aws_s3", "content_type", "not supported by logbridge"),
    o(
        "aws_s3",
        "content_encoding",
        "not supported by logbridge: it follows `compression`",
    ),
    o(
        "aws_s3",
        "auth",
        "logbridge reads AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN and AWS_PROFILE with ~/.aws/credentials, as the AWS CLI does",
    ),
    o("aws_s3", "force_path_style", "not supported by logbridge"),
    // remap
    o(
        "remap",
        "files",
        "logbridge runs one program per remap: put it in `source` or `file`, or chain remaps",
    ),
    // route
    o(
        "route",
        "reroute_unmatched",
        "logbridge always sends unmatched events to `<id>._unmatched`; leave it unread to drop them",
    ),
    // any component
    o("*", "framing", ONE_LINE),
    o("*", "timezone", "logbridge renders times in UTC"),
    o(
        "*",
        "proxy",
        "logbridge has no proxy option; HTTP clients connect directly",
    ),
    o(
        "*",
        "request",
        "logbridge retries with its own backoff; see the component's options for timeouts",
    ),
    o("*", "graph", "logbridge draws no graph; remove it"),
    o(
        "*",
        "log_namespace",
        "logbridge's events follow the OpenTelemetry data model; there is no namespace to choose",
    ),
    o(
        "*",
        "encoding.json",
        "logbridge writes one compact JSON object per line; remove it",
    ),
    o(
        "*",
        "encoding.metric_tag_values",
        "logbridge writes every value of a label; remove it",
    ),
    o(
        "*",
        "encoding.csv",
        "logbridge has no csv codec; use json or logfmt",
    ),
    o(
        "*",
        "encoding.avro",
        "logbridge has no avro codec; use json",
    ),
    o(
        "*",
        "encoding.protobuf",
        "logbridge has no protobuf codec; use json (or otlp_json)",
    ),
    o("*", "encoding.cef", "logbridge has no cef codec; use json"),
];
