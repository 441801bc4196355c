"""Sends spans with jaeger-client (Thrift compact emitBatch over UDP, as
the Jaeger agent receives them) and prints what it sent, as JSON, so a test
can compare it with what logbridge received. With `http URL`, posts one
Thrift binary Batch built with the client's own Thrift types to a Jaeger
collector endpoint instead.

usage: jaeger_emit.py UDP_PORT | jaeger_emit.py http URL
"""

import json
import sys
import time
import urllib.request

from jaeger_client import Config

if sys.argv[1] == "http":
    from jaeger_client.thrift_gen.jaeger import ttypes as j
    from thrift.protocol import TBinaryProtocol
    from thrift.transport import TTransport

    batch = j.Batch(
        process=j.Process(serviceName="billing", tags=[j.Tag(key="ip", vType=j.TagType.STRING, vStr="10.0.0.7")]),
        spans=[j.Span(traceIdLow=0x1234, traceIdHigh=0x77, spanId=0x42, parentSpanId=0, operationName="charge",
                      flags=1, startTime=1_700_000_000_000_000, duration=1500,
                      tags=[j.Tag(key="amount", vType=j.TagType.DOUBLE, vDouble=9.99),
                            j.Tag(key="span.kind", vType=j.TagType.STRING, vStr="server")],
                      logs=[j.Log(timestamp=1_700_000_000_000_100,
                                  fields=[j.Tag(key="event", vType=j.TagType.STRING, vStr="authorized")])])])
    out = TTransport.TMemoryBuffer()
    batch.write(TBinaryProtocol.TBinaryProtocol(out))
    request = urllib.request.Request(sys.argv[2], data=out.getvalue(), method="POST",
                                     headers={"Content-Type": "application/x-thrift"})
    with urllib.request.urlopen(request) as response:
        print(json.dumps({"status": response.status}))
    sys.exit(0)

port = int(sys.argv[1])
config = Config(
    config={
        "sampler": {"type": "const", "param": 1},
        "local_agent": {"reporting_host": "127.0.0.1", "reporting_port": port},
        "reporter_flush_interval": 0.1,
        "logging": False,
        "tags": {"region": "eu-1"},
    },
    service_name="inventory",
    validate=True,
)
tracer = config.initialize_tracer()
sent = []


def record(span):
    ctx = span.context
    sent.append({
        "trace_id": f"{ctx.trace_id:032x}",
        "span_id": f"{ctx.span_id:016x}",
        "parent_id": f"{ctx.parent_id:016x}" if ctx.parent_id else None,
        "name": span.operation_name,
        "tags": {t.key: (t.vStr if t.vStr is not None else t.vBool if t.vBool is not None
                         else t.vLong if t.vLong is not None else t.vDouble)
                 for t in span.tags},
        "logs": [{f.key: f.vStr for f in log.fields} for log in span.logs],
        "start_us": int(span.start_time * 1_000_000),
    })


with tracer.start_active_span("lookup", tags={"span.kind": "server", "item.count": 3,
                                              "cached": False, "ratio": 0.5}) as scope:
    scope.span.log_kv({"event": "cache miss", "key": "sku-9"})
    with tracer.start_active_span("SELECT stock", tags={"span.kind": "client", "db.system": "mysql"}) as inner:
        inner.span.set_tag("error", True)
        record_inner = inner.span
    record(record_inner)
    root = scope.span
record(root)
time.sleep(1.0)
tracer.close()
time.sleep(1.0)
print(json.dumps(sent))
