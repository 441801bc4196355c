"""Emits traces, metrics and logs with the OpenTelemetry Python SDK to an
OTLP endpoint, and writes next to it the exact protobuf requests the
exporters sent (the SDK's own encoders), so a test can compare what came
out of logbridge with what went in, field by field.

usage: otel_export.py grpc|http ENDPOINT DUMP_DIR
"""

import logging
import os
import sys

from opentelemetry import metrics, trace
from opentelemetry._logs import set_logger_provider
from opentelemetry.exporter.otlp.proto.common._internal._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common._internal.metrics_encoder import encode_metrics
from opentelemetry.exporter.otlp.proto.common._internal.trace_encoder import encode_spans
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import LogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricExporter, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

protocol, endpoint, dump = sys.argv[1], sys.argv[2], sys.argv[3]
if protocol == "grpc":
    from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

    kw = {"endpoint": endpoint, "insecure": True}
    spans_out, metrics_out, logs_out = (
        OTLPSpanExporter(**kw), OTLPMetricExporter(**kw), OTLPLogExporter(**kw))
else:
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    spans_out = OTLPSpanExporter(endpoint=endpoint + "/v1/traces")
    metrics_out = OTLPMetricExporter(endpoint=endpoint + "/v1/metrics")
    logs_out = OTLPLogExporter(endpoint=endpoint + "/v1/logs")

counter = {"n": 0}


def save(kind, request):
    counter["n"] += 1
    with open(os.path.join(dump, f"{kind}-{counter['n']:03}.pb"), "wb") as f:
        f.write(request.SerializeToString())


def check(result, kind):
    # Every export must succeed: logbridge answers once its sinks hold the data.
    if getattr(result, "name", str(result)) not in ("SUCCESS",):
        sys.exit(f"{kind} export failed: {result}")
    return result


class TeeSpans(SpanExporter):
    def export(self, spans):
        save("traces", encode_spans(spans))
        return check(spans_out.export(spans), "traces")

    def shutdown(self):
        spans_out.shutdown()


class TeeMetrics(MetricExporter):
    def __init__(self):
        super().__init__(preferred_temporality=metrics_out._preferred_temporality,
                         preferred_aggregation=metrics_out._preferred_aggregation)

    def export(self, data, timeout_millis=10_000, **kw):
        save("metrics", encode_metrics(data))
        return check(metrics_out.export(data), "metrics")

    def force_flush(self, timeout_millis=10_000):
        return True

    def shutdown(self, timeout_millis=30_000, **kw):
        metrics_out.shutdown()


class TeeLogs(LogRecordExporter):
    def export(self, batch):
        save("logs", encode_logs(batch))
        return check(logs_out.export(batch), "logs")

    def force_flush(self, timeout_millis=30_000):
        return True

    def shutdown(self):
        logs_out.shutdown()


resource = Resource.create({"service.name": "checkout", "service.version": "1.2.3",
                            "deployment.environment": "test", "host.cores": 2})
tracer_provider = TracerProvider(resource=resource)
tracer_provider.add_span_processor(SimpleSpanProcessor(TeeSpans()))
trace.set_tracer_provider(tracer_provider)
reader = PeriodicExportingMetricReader(TeeMetrics(), export_interval_millis=3_600_000)
meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
metrics.set_meter_provider(meter_provider)
logger_provider = LoggerProvider(resource=resource)
logger_provider.add_log_record_processor(SimpleLogRecordProcessor(TeeLogs()))
set_logger_provider(logger_provider)

tracer = trace.get_tracer("shop.cart", "0.9", schema_url="https://opentelemetry.io/schemas/1.21.0")
with tracer.start_as_current_span("GET /cart", kind=SpanKind.SERVER,
                                  attributes={"http.method": "GET", "http.status_code": 500,
                                              "ratio": 0.25, "retry": True,
                                              "tags": ["a", "b"], "ids": [1, 2, 3]}) as root:
    root.add_event("cache miss", {"key": "cart:42", "size": 3})
    with tracer.start_as_current_span("SELECT carts", kind=SpanKind.CLIENT,
                                      links=[Link(root.get_span_context(), {"why": "batch"})]) as db:
        db.set_attribute("db.system", "postgresql")
        db.set_status(Status(StatusCode.OK))
    root.set_status(Status(StatusCode.ERROR, "upstream failed"))
    logging.getLogger().addHandler(LoggingHandler(logger_provider=logger_provider))
    logging.getLogger().setLevel(logging.INFO)
    logging.getLogger("shop").warning("cart %s is slow", 42, extra={"cart.id": 42, "user": "ann"})
logging.getLogger("shop").error("payment declined")

meter = metrics.get_meter("shop.metrics", "2.0")
requests = meter.create_counter("http.requests", unit="1", description="requests served")
requests.add(5, {"route": "/cart", "code": 200})
requests.add(2, {"route": "/pay", "code": 500})
inflight = meter.create_up_down_counter("http.inflight")
inflight.add(3)
inflight.add(-1)
latency = meter.create_histogram("http.latency", unit="ms")
for v in (3, 7, 12, 250, 1200):
    latency.record(v, {"route": "/cart"})
ratio = meter.create_gauge("cache.ratio")
ratio.set(0.75, {"tier": "l1"})

reader.collect()
tracer_provider.shutdown()
logger_provider.shutdown()
meter_provider.shutdown()
print("exported", counter["n"], "requests")
