//! The `service_graph` transform: who calls whom, from spans, as the
//! OpenTelemetry Collector's servicegraph connector (after Grafana Tempo's)
//! pairs them. Spans in, metrics out.
//!
//! A client span (`CLIENT` or `PRODUCER`) and a server span (`SERVER` or
//! `CONSUMER`) of one trace make an edge when the server's parent is the
//! client: the edge goes from the client's `service.name` to the server's.
//! A client span naming a database (`database_name_attributes`) is an edge
//! to that database at once. Each edge counts in
//! `traces_service_graph_request_total`, in `..._request_failed_total` when
//! either side failed, and its two durations in the
//! `..._request_client` and `..._request_server` histograms (seconds), per
//! `client`, `server`, `connection_type`, `failed` and the `client_` and
//! `server_` values of each of `dimensions` (resource, then span).
//!
//! Half-edges wait `store.ttl_secs` for their other half, at most
//! `store.max_items` of them (a span that would open one more is dropped,
//! counted). One that expires becomes an edge to or from a virtual node
//! when it can: a client with a peer attribute
//! (`virtual_node_peer_attributes`) calls that peer (else `unknown`), a
//! root server is called by `user`; the missing side's duration counts as
//! 0. Series are bounded by `aggregation_cardinality_limit`, past which
//! edges count in one `otel.metric.overflow` series (counted).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use logbridge_component::telemetry::{ComponentMetrics, GaugeDef};
use logbridge_component::{
    BuildContext, BuildError, OutputDef, Transform, TransformConfig, TransformOutputs,
};
use logbridge_event::{
    DataKind, Event, EventBatch, KeyString, Metric, MetricKind, MetricValue, ObjectMap, Span,
    SpanId, SpanKind, StatusCode, TraceId, Value,
};
use serde::Deserialize;

use crate::duration_histogram::{self, Histogram, wall_clock_ns};
use crate::fingerprint::Fingerprint;

/// Turns client and server spans into the edges of a service graph.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceGraphConfig {
    /// Bounds of both latency histograms, as durations (`"100ms"`,
    /// `"1s"`); the collector's 2 ms to 15 s by default.
    #[serde(default)]
    pub latency_histogram_buckets: Option<Vec<String>>,
    /// Extra labels, taken from each side's resource (else span)
    /// attributes as `client_NAME` and `server_NAME`.
    #[serde(default)]
    pub dimensions: Vec<String>,
    /// Half-edges waiting for their other half: `ttl_secs` (2 by default)
    /// and `max_items` (1,000 by default).
    #[serde(default)]
    pub store: StoreConfig,
    /// Client attributes naming the peer of an edge whose server never
    /// came, in order (`peer.service`, `db.name`, `db.system` by default);
    /// an empty list turns virtual nodes off.
    #[serde(default = "default_peer_attributes")]
    pub virtual_node_peer_attributes: Vec<String>,
    /// Adds `virtual_node` (`client` or `server`) to edges with one.
    #[serde(default)]
    pub virtual_node_extra_label: bool,
    /// Client attributes that make a span a database call, in order
    /// (`db.name` by default).
    #[serde(default = "default_database_attributes")]
    pub database_name_attributes: Vec<String>,
    /// How often the metrics are sent (60 seconds by default).
    #[serde(default = "default_flush_interval")]
    pub metrics_flush_interval_secs: f64,
    /// Series with no edge for this long are forgotten (15 minutes, as in
    /// the collector; 0 keeps them).
    #[serde(default = "default_series_expiration")]
    pub metrics_expiration_secs: f64,
    /// The most series (10,000 by default; 0 for no bound).
    #[serde(default = "default_cardinality_limit")]
    pub aggregation_cardinality_limit: usize,
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    #[serde(default = "default_ttl")]
    pub ttl_secs: f64,
    #[serde(default = "default_max_items")]
    pub max_items: usize,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            ttl_secs: default_ttl(),
            max_items: default_max_items(),
        }
    }
}

fn default_peer_attributes() -> Vec<String> {
    ["peer.service", "db.name", "db.system"]
        .map(String::from)
        .to_vec()
}

fn default_database_attributes() -> Vec<String> {
    vec!["db.name".to_owned()]
}

fn default_flush_interval() -> f64 {
    60.0
}

fn default_series_expiration() -> f64 {
    900.0
}

fn default_cardinality_limit() -> usize {
    10_000
}

fn default_ttl() -> f64 {
    2.0
}

fn default_max_items() -> usize {
    1000
}

static DROPPED_SPANS: GaugeDef = GaugeDef {
    name: "logbridge_service_graph_dropped_spans_total",
    help: "Spans not paired because store.max_items half-edges were already waiting.",
    counter: true,
};

static EXPIRED_EDGES: GaugeDef = GaugeDef {
    name: "logbridge_service_graph_expired_edges_total",
    help: "Half-edges whose other half did not come within store.ttl_secs, by outcome (virtual_node, dropped).",
    counter: true,
};

static OVERFLOW_EDGES: GaugeDef = GaugeDef {
    name: "logbridge_service_graph_overflow_edges_total",
    help: "Edges counted in the overflow series because aggregation_cardinality_limit series already existed.",
    counter: true,
};

impl TransformConfig for ServiceGraphConfig {
    fn build(&self, cx: &BuildContext) -> Result<Box<dyn Transform>, BuildError> {
        Ok(Box::new(self.build_graph(cx.metrics.clone())?))
    }

    fn input_kinds(&self) -> DataKind {
        DataKind::SPAN
    }

    fn outputs(&self, _input: DataKind) -> Vec<OutputDef> {
        vec![OutputDef::default_output(DataKind::METRIC)]
    }
}

impl ServiceGraphConfig {
    fn build_graph(&self, metrics: Arc<ComponentMetrics>) -> Result<ServiceGraph, BuildError> {
        let bounds = duration_histogram::bounds(
            "latency_histogram_buckets",
            self.latency_histogram_buckets.as_deref(),
            1e-3,
        )?;
        duration_histogram::check_seconds(
            &[
                ("store.ttl_secs", self.store.ttl_secs),
                ("metrics_expiration_secs", self.metrics_expiration_secs),
            ],
            "metrics_flush_interval_secs",
            self.metrics_flush_interval_secs,
        )?;
        if self.store.max_items == 0 {
            return Err(BuildError::new("store.max_items", "must be at least 1"));
        }
        Ok(ServiceGraph {
            bounds,
            dimensions: self.dimensions.clone(),
            ttl_ns: (self.store.ttl_secs * 1e9) as i64,
            max_items: self.store.max_items,
            peer_attributes: self.virtual_node_peer_attributes.clone(),
            virtual_label: self.virtual_node_extra_label,
            database_attributes: self.database_name_attributes.clone(),
            flush_every: Duration::from_secs_f64(self.metrics_flush_interval_secs),
            expire_after_ns: (self.metrics_expiration_secs * 1e9) as i64,
            limit: self.aggregation_cardinality_limit,
            pending: HashMap::new(),
            order: VecDeque::new(),
            series: HashMap::new(),
            counts: Counts::default(),
            metrics,
        })
    }
}

/// One side of an edge.
#[derive(Debug, Clone)]
struct Side {
    service: Value,
    seconds: f64,
    failed: bool,
    dimensions: Vec<(String, Value)>,
}

/// A half-edge waiting for its other half.
#[derive(Debug, Default)]
struct Edge {
    client: Option<Side>,
    server: Option<Side>,
    connection_type: &'static str,
    /// The client's first peer attribute, for a virtual server.
    peer: Option<Value>,
    server_is_root: bool,
}

struct GraphSeries {
    labels: ObjectMap,
    total: u64,
    failed: u64,
    server: Histogram,
    client: Histogram,
    start_ns: i64,
    last_seen_ns: i64,
}

#[derive(Default)]
struct Counts {
    dropped_spans: u64,
    expired_virtual: u64,
    expired_dropped: u64,
    overflow: u64,
}

struct ServiceGraph {
    bounds: Vec<f64>,
    dimensions: Vec<String>,
    ttl_ns: i64,
    max_items: usize,
    peer_attributes: Vec<String>,
    virtual_label: bool,
    database_attributes: Vec<String>,
    flush_every: Duration,
    expire_after_ns: i64,
    limit: usize,
    pending: HashMap<(TraceId, SpanId), Edge>,
    /// Half-edges in the order they were opened (one wait for all, so
    /// also the order they expire in), with when.
    order: VecDeque<((TraceId, SpanId), i64)>,
    series: HashMap<u128, GraphSeries>,
    counts: Counts,
    metrics: Arc<ComponentMetrics>,
}

/// An attribute of the resource, else of the span.
fn attribute<'a>(span: &'a Span, key: &str) -> Option<&'a Value> {
    span.resource()
        .attributes
        .get(key)
        .or_else(|| span.attributes.get(key))
}

impl ServiceGraph {
    fn side(&self, span: &Span, service: &Value) -> Side {
        Side {
            service: service.clone(),
            seconds: span
                .end_time_unix_nano
                .saturating_sub(span.start_time_unix_nano)
                .max(0) as f64
                / 1e9,
            failed: span.status.code == StatusCode::Error,
            dimensions: self
                .dimensions
                .iter()
                .filter_map(|d| attribute(span, d).map(|v| (d.clone(), v.clone())))
                .collect(),
        }
    }

    fn accept(&mut self, span: &Span, now_ns: i64) {
        let Some(service) = span.resource().attributes.get("service.name").cloned() else {
            return;
        };
        let (is_client, messaging) = match span.kind {
            SpanKind::Client => (true, false),
            SpanKind::Producer => (true, true),
            SpanKind::Server => (false, false),
            SpanKind::Consumer => (false, true),
            SpanKind::Internal | SpanKind::Unspecified => return,
        };
        let side = self.side(span, &service);
        if is_client
            && let Some(database) = self
                .database_attributes
                .iter()
                .find_map(|a| attribute(span, a))
        {
            // A database call: the edge is whole with this one span.
            let server = Side {
                service: database.clone(),
                dimensions: Vec::new(),
                failed: false,
                ..side.clone()
            };
            let edge = Edge {
                client: Some(side),
                server: Some(server),
                connection_type: "database",
                ..Edge::default()
            };
            self.record(&edge, None, now_ns);
            return;
        }
        let key = if is_client {
            (span.trace_id, span.span_id)
        } else {
            (span.trace_id, span.parent_span_id.unwrap_or_default())
        };
        let is_new = !self.pending.contains_key(&key);
        if is_new && self.pending.len() >= self.max_items {
            self.expire(now_ns);
            if self.pending.len() >= self.max_items {
                self.counts.dropped_spans += 1;
                return;
            }
        }
        if is_new {
            self.order.push_back((key, now_ns));
        }
        let edge = self.pending.entry(key).or_default();
        let connection_type = if messaging { "messaging_system" } else { "" };
        edge.connection_type = connection_type;
        if is_client {
            edge.peer = self
                .peer_attributes
                .iter()
                .find_map(|a| span.attributes.get(a))
                .cloned();
            edge.client = Some(side);
        } else {
            edge.server_is_root = span.parent_span_id.is_none();
            edge.server = Some(side);
        }
        if edge.client.is_some()
            && edge.server.is_some()
            && let Some(edge) = self.pending.remove(&key)
        {
            self.record(&edge, None, now_ns);
        }
    }

    /// Ends the half-edges that waited `ttl` without their other half.
    fn expire(&mut self, now_ns: i64) {
        while let Some(&(key, opened)) = self.order.front() {
            if opened > now_ns.saturating_sub(self.ttl_ns) {
                break;
            }
            self.order.pop_front();
            let Some(edge) = self.pending.remove(&key) else {
                continue; // paired meanwhile
            };
            let virtual_side = if self.peer_attributes.is_empty() {
                None
            } else if let (Some(client), None) = (&edge.client, &edge.server) {
                let server = Side {
                    service: edge.peer.clone().unwrap_or_else(|| Value::from("unknown")),
                    seconds: 0.0,
                    failed: false,
                    dimensions: Vec::new(),
                };
                Some((Some(client.clone()), Some(server), "server"))
            } else if let (None, Some(server)) = (&edge.client, &edge.server)
                && edge.server_is_root
            {
                let client = Side {
                    service: Value::from("user"),
                    seconds: 0.0,
                    failed: false,
                    dimensions: Vec::new(),
                };
                Some((Some(client), Some(server.clone()), "client"))
            } else {
                None
            };
            match virtual_side {
                Some((client, server, which)) => {
                    self.counts.expired_virtual += 1;
                    let edge = Edge {
                        client,
                        server,
                        connection_type: "virtual_node",
                        ..Edge::default()
                    };
                    self.record(&edge, Some(which), now_ns);
                }
                None => self.counts.expired_dropped += 1,
            }
        }
    }

    /// Counts a whole edge in its series.
    fn record(&mut self, edge: &Edge, virtual_node: Option<&str>, now_ns: i64) {
        let (Some(client), Some(server)) = (&edge.client, &edge.server) else {
            return;
        };
        let failed = client.failed || server.failed;
        let mut labels = ObjectMap::with_capacity(5 + 2 * self.dimensions.len());
        labels.insert(KeyString::from("client"), client.service.clone());
        labels.insert(KeyString::from("server"), server.service.clone());
        if !edge.connection_type.is_empty() {
            labels.insert(
                KeyString::from("connection_type"),
                Value::from(edge.connection_type),
            );
        }
        labels.insert(KeyString::from("failed"), Value::Bool(failed));
        for (prefix, side) in [("client_", client), ("server_", server)] {
            for (name, value) in &side.dimensions {
                labels.insert(KeyString::from(format!("{prefix}{name}")), value.clone());
            }
        }
        if self.virtual_label {
            labels.insert(
                KeyString::from("virtual_node"),
                Value::from(virtual_node.unwrap_or("")),
            );
        }
        let mut f = Fingerprint::new();
        for (k, v) in labels.iter() {
            f.name(k);
            f.value(v);
        }
        let mut key = f.finish();
        if !self.series.contains_key(&key) && self.limit > 0 && self.series.len() >= self.limit {
            self.counts.overflow += 1;
            key = 0x6f76_6572_666c_6f77;
            labels = ObjectMap::new();
            labels.insert(KeyString::from("otel.metric.overflow"), Value::Bool(true));
        }
        let bounds = &self.bounds;
        let series = self.series.entry(key).or_insert_with(|| GraphSeries {
            labels,
            total: 0,
            failed: 0,
            server: Histogram::new(bounds),
            client: Histogram::new(bounds),
            start_ns: now_ns,
            last_seen_ns: now_ns,
        });
        series.total += 1;
        series.failed += u64::from(failed);
        series.server.observe(bounds, server.seconds);
        series.client.observe(bounds, client.seconds);
        series.last_seen_ns = now_ns;
    }

    /// Sends every series' points (cumulative), stamped `now_ns`.
    fn flush(&mut self, now_ns: i64, out: &mut TransformOutputs) {
        self.expire(now_ns);
        if self.expire_after_ns > 0 {
            let horizon = now_ns.saturating_sub(self.expire_after_ns);
            self.series.retain(|_, s| s.last_seen_ns > horizon);
        }
        let mut points = Vec::with_capacity(self.series.len() * 4);
        for s in self.series.values() {
            let point = |name: &str, kind: MetricKind, value: MetricValue, unit: &str| {
                Event::Metric(Metric {
                    name: KeyString::from(name),
                    labels: s.labels.clone(),
                    kind,
                    value,
                    unit: unit.to_owned(),
                    time_unix_nano: now_ns,
                    start_time_unix_nano: s.start_ns,
                    ..Metric::default()
                })
            };
            points.push(point(
                "traces_service_graph_request_total",
                MetricKind::Counter,
                MetricValue::Integer(s.total as i64),
                "",
            ));
            points.push(point(
                "traces_service_graph_request_failed_total",
                MetricKind::Counter,
                MetricValue::Integer(s.failed as i64),
                "",
            ));
            points.push(point(
                "traces_service_graph_request_server",
                MetricKind::Histogram,
                s.server.value(&self.bounds),
                "s",
            ));
            points.push(point(
                "traces_service_graph_request_client",
                MetricKind::Histogram,
                s.client.value(&self.bounds),
                "s",
            ));
        }
        if !points.is_empty() {
            out.push(EventBatch::new(points));
        }
        let counts = std::mem::take(&mut self.counts);
        let m = &self.metrics;
        if counts.dropped_spans > 0 {
            m.add_to_gauge(&DROPPED_SPANS, &[], counts.dropped_spans as i64);
        }
        for (outcome, n) in [
            ("virtual_node", counts.expired_virtual),
            ("dropped", counts.expired_dropped),
        ] {
            if n > 0 {
                m.add_to_gauge(&EXPIRED_EDGES, &[("outcome", outcome)], n as i64);
            }
        }
        if counts.overflow > 0 {
            m.add_to_gauge(&OVERFLOW_EDGES, &[], counts.overflow as i64);
        }
    }
}

impl Transform for ServiceGraph {
    fn transform(&mut self, batch: EventBatch, _out: &mut TransformOutputs) {
        let now = wall_clock_ns();
        self.expire(now);
        // Read in place: taking would copy spans that another consumer of
        // the same batch holds.
        for event in batch.events() {
            if let Event::Span(span) = event {
                self.accept(span, now);
            }
        }
    }

    fn tick_interval(&self) -> Option<Duration> {
        Some(self.flush_every)
    }

    fn tick(&mut self, out: &mut TransformOutputs) {
        self.flush(wall_clock_ns(), out);
    }

    fn finish(&mut self, out: &mut TransformOutputs) {
        self.flush(wall_clock_ns(), out);
    }
}

#[cfg(test)]
mod tests;
