//! Pairing, databases, failures, dimensions, virtual nodes, the store's
//! bound, the series' bound and the metrics sent.

use std::sync::Arc;

use logbridge_component::TransformOutputs;
use logbridge_component::telemetry::{ComponentKind, Registry};
use logbridge_event::{Metric, Resource, SpanStatus};

use super::*;
use crate::testing::{drain_metrics, service_resource};

fn build(text: &str) -> (ServiceGraph, Arc<Registry>) {
    let config: ServiceGraphConfig = toml::from_str(text).unwrap();
    let registry = Registry::new();
    let metrics = registry.register("sg", ComponentKind::Transform, "service_graph");
    (config.build_graph(metrics).unwrap(), registry)
}

/// A span of `service`, `id` in trace `t`, child of `parent`, lasting `ms`.
fn span(service: &str, kind: SpanKind, t: u8, id: u8, parent: Option<u8>, ms: i64) -> Span {
    Span {
        trace_id: TraceId([t; 16]),
        span_id: SpanId([id; 8]),
        parent_span_id: parent.map(|p| SpanId([p; 8])),
        kind,
        start_time_unix_nano: 0,
        end_time_unix_nano: ms * 1_000_000,
        resource: service_resource(service),
        ..Default::default()
    }
}

fn flush(g: &mut ServiceGraph, now: i64) -> Vec<Metric> {
    let mut out = TransformOutputs::new(vec![None]);
    g.flush(now, &mut out);
    drain_metrics(&mut out)
}

fn total(points: &[Metric], client: &str, server: &str) -> Option<i64> {
    points
        .iter()
        .find(|m| {
            m.name == "traces_service_graph_request_total"
                && m.labels.get("client") == Some(&Value::from(client))
                && m.labels.get("server") == Some(&Value::from(server))
        })
        .map(|m| match m.value {
            MetricValue::Integer(n) => n,
            _ => panic!(),
        })
}

#[test]
fn a_client_and_its_server_make_an_edge_in_either_order() {
    let (mut g, _) = build("");
    g.accept(&span("web", SpanKind::Client, 1, 1, None, 30), 0);
    g.accept(&span("cart", SpanKind::Server, 1, 2, Some(1), 20), 0);
    // Server first, in another trace.
    g.accept(&span("cart", SpanKind::Server, 2, 2, Some(1), 20), 0);
    g.accept(&span("web", SpanKind::Client, 2, 1, None, 30), 0);
    // Not paired: another trace's span id.
    g.accept(&span("cart", SpanKind::Server, 3, 2, Some(9), 20), 0);
    assert_eq!(g.pending.len(), 1);
    let points = flush(&mut g, 0);
    assert_eq!(total(&points, "web", "cart"), Some(2));
    let server = points
        .iter()
        .find(|m| m.name == "traces_service_graph_request_server")
        .unwrap();
    assert_eq!(server.unit, "s");
    let MetricValue::Histogram { count, sum, .. } = &server.value else {
        panic!()
    };
    assert_eq!((*count, *sum), (2, Some(0.04)));
    assert_eq!(server.labels.get("failed"), Some(&Value::Bool(false)));
    assert_eq!(server.labels.get("connection_type"), None);
}

#[test]
fn either_side_failing_fails_the_edge_and_databases_need_no_server() {
    let (mut g, _) = build("dimensions = [\"region\"]");
    let mut client = span("web", SpanKind::Client, 1, 1, None, 30);
    client.resource = Some(Arc::new(Resource {
        attributes: [
            (KeyString::from("service.name"), Value::from("web")),
            (KeyString::from("region"), Value::from("eu")),
        ]
        .into_iter()
        .collect(),
        ..Default::default()
    }));
    let mut server = span("cart", SpanKind::Server, 1, 2, Some(1), 20);
    server.status = SpanStatus {
        code: StatusCode::Error,
        message: String::new(),
    };
    g.accept(&client, 0);
    g.accept(&server, 0);
    let mut db = span("cart", SpanKind::Client, 4, 7, Some(2), 5);
    db.attributes
        .insert(KeyString::from("db.name"), Value::from("orders"));
    g.accept(&db, 0);
    let points = flush(&mut g, 0);
    let failed = points
        .iter()
        .find(|m| {
            m.name == "traces_service_graph_request_failed_total"
                && m.labels.get("server") == Some(&Value::from("cart"))
        })
        .unwrap();
    assert_eq!(failed.value, MetricValue::Integer(1));
    assert_eq!(failed.labels.get("client_region"), Some(&Value::from("eu")));
    assert_eq!(failed.labels.get("failed"), Some(&Value::Bool(true)));
    assert_eq!(total(&points, "cart", "orders"), Some(1));
    let db_edge = points
        .iter()
        .find(|m| m.labels.get("server") == Some(&Value::from("orders")))
        .unwrap();
    assert_eq!(
        db_edge.labels.get("connection_type"),
        Some(&Value::from("database"))
    );
}

#[test]
fn expired_halves_become_edges_to_and_from_virtual_nodes() {
    let (mut g, registry) = build("virtual_node_extra_label = true\nstore = { ttl_secs = 1 }");
    let mut external = span("web", SpanKind::Client, 1, 1, None, 30);
    external
        .attributes
        .insert(KeyString::from("peer.service"), Value::from("payments"));
    g.accept(&external, 0);
    g.accept(&span("web", SpanKind::Client, 2, 1, None, 30), 0);
    // A root server span: called by a user.
    g.accept(&span("web", SpanKind::Server, 3, 5, None, 30), 0);
    // A server whose client never came: dropped.
    g.accept(&span("cart", SpanKind::Server, 4, 5, Some(3), 30), 0);
    assert!(flush(&mut g, 500_000_000).is_empty(), "not expired yet");
    let points = flush(&mut g, 1_000_000_000);
    assert_eq!(total(&points, "web", "payments"), Some(1));
    assert_eq!(total(&points, "web", "unknown"), Some(1));
    assert_eq!(total(&points, "user", "web"), Some(1));
    let to_payments = points
        .iter()
        .find(|m| m.labels.get("server") == Some(&Value::from("payments")))
        .unwrap();
    assert_eq!(
        to_payments.labels.get("virtual_node"),
        Some(&Value::from("server"))
    );
    assert_eq!(
        to_payments.labels.get("connection_type"),
        Some(&Value::from("virtual_node"))
    );
    assert!(g.pending.is_empty());
    let text = registry.render();
    assert!(text.contains("outcome=\"virtual_node\"} 3"), "{text}");
    assert!(text.contains("outcome=\"dropped\"} 1"), "{text}");
}

#[test]
fn the_store_and_the_series_are_bounded() {
    let (mut g, registry) = build("store = { max_items = 2 }\naggregation_cardinality_limit = 1");
    for t in 1..=3 {
        g.accept(&span("web", SpanKind::Client, t, 1, None, 30), 0);
    }
    assert_eq!(g.pending.len(), 2);
    g.accept(&span("a", SpanKind::Server, 1, 2, Some(1), 1), 0);
    g.accept(&span("b", SpanKind::Server, 2, 2, Some(1), 1), 0);
    let points = flush(&mut g, 0);
    assert_eq!(total(&points, "web", "a"), Some(1));
    let overflow = points
        .iter()
        .find(|m| m.labels.get("otel.metric.overflow").is_some())
        .unwrap();
    assert_eq!(overflow.value, MetricValue::Integer(1));
    let text = registry.render();
    assert!(
        text.contains("logbridge_service_graph_dropped_spans_total{component_id=\"sg\""),
        "{text}"
    );
    assert!(
        text.contains("logbridge_service_graph_overflow_edges_total"),
        "{text}"
    );
}

#[test]
fn configuration_errors_name_the_option() {
    let err = |text: &str| {
        let config: ServiceGraphConfig = toml::from_str(text).unwrap();
        let registry = Registry::new();
        let metrics = registry.register("sg", ComponentKind::Transform, "service_graph");
        match config.build_graph(metrics) {
            Ok(_) => panic!("accepted: {text}"),
            Err(e) => e.to_string(),
        }
    };
    assert!(err("latency_histogram_buckets = [\"1x\"]").contains("not a duration"));
    assert!(err("store = { max_items = 0 }").contains("at least 1"));
    assert!(err("store = { ttl_secs = -1 }").contains("seconds"));
    assert!(toml::from_str::<ServiceGraphConfig>("store = { ttl = \"2s\" }").is_err());
}
