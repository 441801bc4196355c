//! The `loki` source and sink: Grafana Loki's push API,
//! `POST /loki/api/v1/push`, with a snappy-compressed protobuf body or a
//! JSON one.
//!
//! The source is a Loki push endpoint for Promtail, Grafana Alloy and the
//! Loki client libraries: each stream's labels become the resource
//! attributes of its logs, structured metadata their attributes, and the
//! `X-Scope-OrgID` tenant the metadata `%loki.tenant`. It answers 204 once
//! the sinks hold the data. The sink pushes logs to Loki (or to another
//! logbridge): labels from templates or from the resource, one request per
//! tenant, batched, retried on 429 and 5xx.
//!
//! Because the source keeps labels on the resource and the sink's default
//! labels are the resource's, a push that goes through source and sink
//! comes out with the same streams, lines, timestamps and metadata.
//! The codecs live in `logbridge-loki`; this module is the transport:
//! `source` the listener, `sink` batching and delivery, and `request`
//! what the sink sends (labels, tenants, bodies).

mod request;
mod sink;
mod source;

pub use sink::{LokiBatchConfig, LokiCompression, LokiEncoding, LokiSinkConfig, MetadataMode};
pub use source::LokiSourceConfig;

/// Where both ends of the push API meet.
pub const PUSH_PATH: &str = "/loki/api/v1/push";

/// The header naming the tenant a push belongs to.
pub const TENANT_HEADER: &str = "x-scope-orgid";

/// `%loki`, the metadata object the source fills.
const METADATA_ROOT: &str = "loki";

/// `%loki.tenant`: the tenant a log was pushed for.
const METADATA_TENANT: &str = "tenant";
