"""Runs the whole-pipeline benchmark; see scripts/bench."""

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("LOGBRIDGE_BENCH_BIN") or os.path.join(ROOT, "target", "release", "logbridge")
LOAD = os.path.join(ROOT, "target", "release", "examples", "otlp_load")


def generate(path, n, seed=1):
    """Writes n JSON lines of about 200 bytes; returns how many pass the filter."""
    rnd = random.Random(seed)
    levels = ["debug", "info", "info", "info", "warn", "error"]
    methods = ["GET", "GET", "POST", "PUT", "DELETE"]
    paths = ["/api/v1/users", "/api/v1/orders/42", "/login", "/static/app.js", "/api/v1/search?q=x"]
    passing = 0
    with open(path, "w") as f:
        buf = []
        for i in range(n):
            level = levels[rnd.randrange(len(levels))]
            status = rnd.choice([200, 200, 200, 201, 304, 404, 500, 503])
            if level != "debug":
                passing += 1
            line = (
                '{"timestamp":"2024-05-01T12:%02d:%02d.%03dZ","level":"%s","service":"api-%d","method":"%s",'
                '"path":"%s","status":%d,"duration_ms":%d.%d,"request_id":"%08x","message":"request %d handled"}'
                % (i // 60000 % 60, i // 1000 % 60, i % 1000, level, i % 7, rnd.choice(methods),
                   rnd.choice(paths), status, rnd.randrange(1000), rnd.randrange(10), rnd.getrandbits(32), i)
            )
            buf.append(line)
            if len(buf) == 10000:
                f.write("\n".join(buf) + "\n")
                buf = []
        if buf:
            f.write("\n".join(buf) + "\n")
    return passing


def peak_rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def count_lines(path):
    if not os.path.exists(path):
        return 0
    n = 0
    with open(path, "rb") as f:
        while True:
            chunk = f.read(1 << 20)
            if not chunk:
                return n
            n += chunk.count(b"\n")


def run(name, cmd, progress, expected, timeout=600, env=None):
    """Starts cmd, polls progress() until it reaches expected; returns (secs, rss_kib)."""
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    rss = 0
    done = 0
    try:
        while time.monotonic() - start < timeout:
            if proc.poll() is not None:
                err = proc.stderr.read().decode(errors="replace")
                sys.exit(f"{name} exited early ({proc.returncode}):\n{err[-2000:]}")
            rss = max(rss, peak_rss_kib(proc.pid))
            done = progress()
            if done >= expected:
                break
            time.sleep(0.05)
        elapsed = time.monotonic() - start
        rss = max(rss, peak_rss_kib(proc.pid))
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    if done < expected:
        sys.exit(f"{name}: only {done} of {expected} events after {timeout}s")
    return elapsed, rss


def metric(port, component):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/debug/metrics", timeout=2) as r:
            for line in r.read().decode().splitlines():
                if line.startswith("logbridge_component_sent_events_total{") and f'component_id="{component}"' in line:
                    return int(float(line.rsplit(" ", 1)[1]))
    except OSError:
        return 0
    return 0


def free_port():
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def pipeline_config(data_dir, src, out, parse):
    """file -> (parse) -> filter -> file; the parse step differs by product."""
    return f"""data_dir = "{data_dir}"
[sources.in]
type = "file"
include = ["{src}"]
read_from = "beginning"
{parse}
[transforms.kept]
type = "filter"
inputs = ["parsed"]
condition = '.level != "debug"'
[sinks.out]
type = "file"
inputs = ["kept"]
path = "{out}"
encoding.codec = "json"
"""


def bench_logbridge(work, src, expected):
    out = os.path.join(work, "lb-out.log")
    port = free_port()
    cfg = os.path.join(work, "logbridge.toml")
    with open(cfg, "w") as f:
        f.write(pipeline_config(f"{work}/lb-state", src, out, '[transforms.parsed]\ntype = "parse"\ninputs = ["in"]\nformat = "json"'))
    return run(
        "logbridge",
        [BIN, "run", "-c", cfg, "--admin-address", f"127.0.0.1:{port}"],
        lambda: metric(port, "out"),
        expected,
        env=dict(os.environ, LOGBRIDGE_LOG="warn"),
    )


def bench_rsyslog(work, src, n):
    if not shutil.which("rsyslogd"):
        return None
    out = os.path.join(work, "rs-out.log")
    state = os.path.join(work, "rs-state")
    os.makedirs(state, exist_ok=True)
    cfg = os.path.join(work, "rsyslog.conf")
    with open(cfg, "w") as f:
        f.write(f"""global(workDirectory="{state}")
module(load="imfile")
input(type="imfile" File="{src}" Tag="bench" freshStartTail="off" reopenOnTruncate="on")
template(name="raw" type="string" string="%msg%\\n")
action(type="omfile" file="{out}" template="raw")
""")
    return run("rsyslog", ["rsyslogd", "-n", "-f", cfg, "-i", os.path.join(work, "rs.pid")], lambda: count_lines(out), n)


VECTOR_BUNDLED = os.path.join(ROOT, "..", "shared", "peers", "vector", "vector")


def find_vector():
    """Vector from PATH, else the build beside the checkout; says which."""
    found = shutil.which("vector")
    if not found and os.access(VECTOR_BUNDLED, os.X_OK):
        found = os.path.abspath(VECTOR_BUNDLED)
    print(f"vector: {found}" if found else "vector: not found (on PATH or ../shared/peers/vector), left out", file=sys.stderr)
    return found


def bench_vector(work, src, expected):
    vector = find_vector()
    if not vector:
        return None
    out = os.path.join(work, "vec-out.log")
    cfg = os.path.join(work, "vector.toml")
    with open(cfg, "w") as f:
        f.write(pipeline_config(f"{work}/vec-state", src, out, '[transforms.parsed]\ntype = "remap"\ninputs = ["in"]\nsource = ". = parse_json!(.message)"'))
    os.makedirs(os.path.join(work, "vec-state"), exist_ok=True)
    return run("vector", [vector, "--config", cfg, "--quiet"], lambda: count_lines(out), expected)


def otlp_run(name, cmd, spans, ready_port, env=None, load_args=(), poll=None):
    """Runs a pipeline under the OTLP load generator; returns (spans/s, rss_kib).

    With `load_args` (`--settle-ms` for a pipeline that samples) it returns
    the generator's whole result and the peak RSS instead; `poll()` runs
    while the load does (to watch a gauge)."""
    load_grpc, load_http = free_port(), free_port()
    proc = subprocess.Popen(cmd(load_grpc, load_http), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    try:
        deadline = time.monotonic() + 30
        import socket

        while time.monotonic() < deadline:
            if proc.poll() is not None:
                sys.exit(f"{name} exited early:\n{proc.stderr.read().decode(errors='replace')[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", ready_port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        load = subprocess.Popen(
            [LOAD, "--target", f"http://127.0.0.1:{ready_port}", "--listen-grpc", str(load_grpc),
             "--listen-http", str(load_http), "--spans", str(spans), *load_args],
            stdout=subprocess.PIPE,
        )
        rss = 0
        while load.poll() is None:
            rss = max(rss, peak_rss_kib(proc.pid))
            if poll:
                poll()
            time.sleep(0.05)
        rss = max(rss, peak_rss_kib(proc.pid))
        result = json.loads(load.stdout.read().decode().strip().splitlines()[-1])
        if load_args:
            return result, rss
        if result["spans"] < result["expected"]:
            sys.exit(f"{name}: only {result['spans']} of {result['expected']} spans arrived")
        return result["spans_per_sec"], rss
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()


def bench_otlp(work, spans):
    results = {}
    port = free_port()

    def logbridge_cmd(load_grpc, _load_http):
        cfg = os.path.join(work, "otlp.toml")
        with open(cfg, "w") as f:
            f.write(f"""data_dir = "{work}/otlp-state"
[sources.in]
type = "otlp"
grpc.address = "127.0.0.1:{port}"
http.enabled = false
[sinks.out]
type = "otlp"
inputs = ["in.traces"]
endpoint = "http://127.0.0.1:{load_grpc}"
compression = "none"
""")
        return [BIN, "run", "-c", cfg, "--no-admin"]

    results["logbridge"] = otlp_run("logbridge", logbridge_cmd, spans, port, env=dict(os.environ, LOGBRIDGE_LOG="warn"))
    vector = find_vector()
    if vector:
        vport = free_port()

        def vector_cmd(_load_grpc, load_http):
            cfg = os.path.join(work, "vector-otlp.toml")
            with open(cfg, "w") as f:
                f.write(f"""data_dir = "{work}/vec-otlp-state"
[sources.in]
type = "opentelemetry"
grpc.address = "127.0.0.1:{vport}"
http.address = "127.0.0.1:{free_port()}"
use_otlp_decoding = true
[sinks.out]
type = "opentelemetry"
inputs = ["in.traces"]
protocol.type = "http"
protocol.uri = "http://127.0.0.1:{load_http}/v1/traces"
protocol.encoding.codec = "otlp"
""")
            os.makedirs(os.path.join(work, "vec-otlp-state"), exist_ok=True)
            return [vector, "--config", cfg, "--quiet"]

        results["vector"] = otlp_run("vector", vector_cmd, spans, vport)
    print(f"{'otlp traces pipeline':<24}{'spans/s':>14}{'peak RSS MiB':>14}")
    for name, (sps, rss) in results.items():
        print(f"{name:<24}{sps:>14,.0f}{rss / 1024:>14.1f}")
    lb = results["logbridge"]
    for name, (sps, rss) in results.items():
        if name != "logbridge":
            print(f"logbridge / {name}: {lb[0] / sps:.2f}x spans/s, {lb[1] / max(rss, 1):.2f}x peak RSS")
    print(json.dumps({f"otlp {k}": {"spans_per_sec": round(v[0]), "peak_rss_kib": v[1]} for k, v in results.items()}))


# Tail sampling: how long a trace is held, and the policies (a trace of
# the load generator is kept when slow, failed, or in the 10% draw).
DECISION_WAIT_SECS = 1
TAIL_POLICIES = """[[transforms.keep.policies]]
name = "slow"
type = "latency"
latency.threshold_ms = 100
[[transforms.keep.policies]]
name = "errors"
type = "status_code"
status_code.status_codes = ["ERROR"]
[[transforms.keep.policies]]
name = "some"
type = "probabilistic"
probabilistic.sampling_percentage = 10
"""


def bench_traces(work, spans):
    """OTLP/gRPC in, tail_sample and span_metrics, OTLP/gRPC out, against
    Vector's opentelemetry source, head `sample` and OTLP sink."""
    port, admin = free_port(), free_port()
    held = [0]

    def logbridge_cmd(load_grpc, _load_http):
        cfg = os.path.join(work, "traces.toml")
        with open(cfg, "w") as f:
            f.write(f"""data_dir = "{work}/traces-state"
[sources.in]
type = "otlp"
grpc.address = "127.0.0.1:{port}"
http.enabled = false
receive.acknowledgements = false
[transforms.keep]
type = "tail_sample"
inputs = ["in.traces"]
decision_wait_secs = {DECISION_WAIT_SECS}
num_traces = 200000
{TAIL_POLICIES}
[transforms.red]
type = "span_metrics"
inputs = ["in.traces"]
[sinks.out]
type = "otlp"
inputs = ["keep"]
endpoint = "http://127.0.0.1:{load_grpc}"
compression = "none"
[sinks.metrics]
type = "blackhole"
inputs = ["red"]
""")
        return [BIN, "run", "-c", cfg, "--admin-address", f"127.0.0.1:{admin}"]

    def watch_held():
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{admin}/debug/metrics", timeout=0.5) as r:
                for line in r.read().decode().splitlines():
                    if line.startswith("logbridge_tail_sample_held_spans{"):
                        held[0] = max(held[0], int(float(line.rsplit(" ", 1)[1])))
        except OSError:
            pass

    settle = ["--settle-ms", str(DECISION_WAIT_SECS * 1000 + 1500)]
    results = {}
    results["logbridge"] = otlp_run("logbridge", logbridge_cmd, spans, port,
                                    env=dict(os.environ, LOGBRIDGE_LOG="warn"), load_args=settle, poll=watch_held)
    # At saturation a span's latency is mostly the time its request queues
    # behind the generator's others (16 in flight); the pipeline's own is
    # measured below it, at half the rate just reached.
    paced_rate = int(results["logbridge"][0]["sent_per_sec"] / 2)
    paced, _ = otlp_run("logbridge paced", logbridge_cmd, spans // 2, port,
                        env=dict(os.environ, LOGBRIDGE_LOG="warn"),
                        load_args=[*settle, "--rate", str(paced_rate)])
    vector = find_vector()
    if vector:
        vport = free_port()

        def vector_cmd(_load_grpc, load_http):
            cfg = os.path.join(work, "vector-traces.toml")
            with open(cfg, "w") as f:
                f.write(f"""data_dir = "{work}/vec-traces-state"
[sources.in]
type = "opentelemetry"
grpc.address = "127.0.0.1:{vport}"
http.address = "127.0.0.1:{free_port()}"
use_otlp_decoding = true
[transforms.some]
type = "sample"
inputs = ["in.traces"]
rate = 10
[sinks.out]
type = "opentelemetry"
inputs = ["some"]
protocol.type = "http"
protocol.uri = "http://127.0.0.1:{load_http}/v1/traces"
protocol.encoding.codec = "otlp"
""")
            os.makedirs(os.path.join(work, "vec-traces-state"), exist_ok=True)
            return [vector, "--config", cfg, "--quiet"]

        results["vector (head sample)"] = otlp_run("vector", vector_cmd, spans, vport, load_args=settle)
    print(f"{'traces pipeline':<24}{'spans/s in':>14}{'spans out':>12}{'p50 ms':>9}{'p99 ms':>9}{'peak RSS MiB':>14}")
    for name, (r, rss) in results.items():
        print(f"{name:<24}{r['sent_per_sec']:>14,.0f}{r['spans']:>12,}{r['p50_ms']:>9.1f}{r['p99_ms']:>9.1f}{rss / 1024:>14.1f}")
    lb, lb_rss = results["logbridge"]
    print(f"logbridge: P99 added beyond the {DECISION_WAIT_SECS} s decision wait: "
          f"{lb['p99_ms'] - DECISION_WAIT_SECS * 1000:.1f} ms at saturation, "
          f"{paced['p99_ms'] - DECISION_WAIT_SECS * 1000:.1f} ms at {paced_rate:,} spans/s offered "
          f"(p50 {paced['p50_ms'] - DECISION_WAIT_SECS * 1000:.1f} ms); peak {held[0]:,} spans held, "
          f"{lb_rss * 1024 / max(held[0], 1):,.0f} bytes of peak RSS per held span")
    for name, (r, rss) in results.items():
        if name != "logbridge":
            print(f"logbridge / {name}: {lb['sent_per_sec'] / max(r['sent_per_sec'], 1):.2f}x spans/s in, "
                  f"{lb_rss / max(rss, 1):.2f}x peak RSS")
    figures = {f"traces {k}": dict(r, peak_rss_kib=rss) for k, (r, rss) in results.items()}
    figures["traces logbridge paced"] = dict(paced, offered_per_sec=paced_rate)
    print(json.dumps(figures))


# The transform pipelines: the same config runs in logbridge and Vector.
# Three field edits that `modify` can express too (set, remove, rename), so
# that a remap program can be priced against parse + modify.
REMAP_EDITS = """. = parse_json!(.message)
.env = "prod"
del(.request_id)
.latency_ms = del(.duration_ms)"""


def remap_section(id_, inputs, program):
    return f"""[transforms.{id_}]
type = "remap"
inputs = ["{inputs}"]
source = \'\'\'
{program}
\'\'\'
"""


FILTER = """[transforms.kept]
type = "filter"
inputs = ["{inputs}"]
condition = '.level != "debug"'
"""


def transform_pipelines():
    """name -> (middle config from source `in` to the component `last`, logbridge only?)."""
    return {
        "remap": (remap_section("parsed", "in", REMAP_EDITS) + FILTER.format(inputs="parsed"), False),
        "parse + modify": (
            """[transforms.json]
type = "parse"
inputs = ["in"]
format = "json"
[transforms.parsed]
type = "modify"
inputs = ["json"]
rename = { ".duration_ms" = ".latency_ms" }
set = { ".env" = "prod" }
remove = [".request_id"]
"""
            + FILTER.format(inputs="parsed"),
            True,
        ),
        "sample": (
            remap_section("parsed", "in", REMAP_EDITS)
            + '[transforms.sampled]\ntype = "sample"\ninputs = ["parsed"]\nrate = 2\n'
            + FILTER.format(inputs="sampled"),
            False,
        ),
        "dedupe": (
            remap_section("parsed", "in", ". = parse_json!(.message)")
            + '[transforms.deduped]\ntype = "dedupe"\ninputs = ["parsed"]\nfields.match = ["request_id"]\n'
            + FILTER.format(inputs="deduped"),
            False,
        ),
        "log_to_metric": (
            remap_section("parsed", "in", REMAP_EDITS)
            + FILTER.format(inputs="parsed")
            + """[transforms.counted]
type = "log_to_metric"
inputs = ["kept"]
[[transforms.counted.metrics]]
type = "counter"
field = "status"
name = "requests_total"
tags.service = "{{ service }}"
tags.status = "{{ status }}"
""",
            False,
        ),
    }


def expected_counts(src):
    """Lines out of each transform pipeline, worked out from the input."""
    from collections import OrderedDict

    passing = sampled = deduped = 0
    seen = OrderedDict()
    with open(src) as f:
        for i, line in enumerate(f):
            rec = json.loads(line)
            keep = rec["level"] != "debug"
            passing += keep
            # `sample` with `rate = 2` keeps the 1st, 3rd, ... event it sees.
            sampled += keep and i % 2 == 0
            # `dedupe` remembers the last 5000 request ids.
            rid = rec["request_id"]
            if rid in seen:
                seen.move_to_end(rid)
            else:
                deduped += keep
                seen[rid] = True
                if len(seen) > 5000:
                    seen.popitem(last=False)
    return {"remap": passing, "parse + modify": passing, "sample": sampled, "dedupe": deduped, "log_to_metric": passing}


# Rounds of remap against parse + modify, run alternately so that a change
# in the machine's speed during the run weighs on both alike.
COST_ROUNDS = 3


def bench_transforms(work, src, n):
    expected = expected_counts(src)
    vector = find_vector()
    pipelines = transform_pipelines()
    runs = 0

    def run_pipeline(name, product):
        nonlocal runs
        runs += 1
        middle, _ = pipelines[name]
        last = "counted" if name == "log_to_metric" else "kept"
        out = os.path.join(work, f"{product}-{runs}.log")
        cfg = os.path.join(work, f"{product}-{runs}.toml")
        state = f"{work}/{product}-{runs}-state"
        os.makedirs(state, exist_ok=True)
        with open(cfg, "w") as f:
            f.write(f"""data_dir = "{state}"
[sources.in]
type = "file"
include = ["{src}"]
read_from = "beginning"
{middle}
[sinks.out]
type = "file"
inputs = ["{last}"]
path = "{out}"
encoding.codec = "json"
""")
        if product == "logbridge":
            port = free_port()
            secs, rss = run(
                f"logbridge {name}",
                [BIN, "run", "-c", cfg, "--admin-address", f"127.0.0.1:{port}"],
                lambda: metric(port, "out"),
                expected[name],
                env=dict(os.environ, LOGBRIDGE_LOG="warn"),
            )
        else:
            secs, rss = run(f"vector {name}", [vector, "--config", cfg, "--quiet"], lambda: count_lines(out), expected[name])
        return (n / secs, rss)

    rows = []
    for name, (_, only_logbridge) in pipelines.items():
        results = {}
        for product in ["logbridge", "vector"]:
            if product == "vector" and (only_logbridge or not vector):
                continue
            results[product] = run_pipeline(name, product)
        rows.append((name, results))
    print(f"{'transform pipeline':<20}{'product':<12}{'events/s':>14}{'peak RSS MiB':>14}")
    for name, results in rows:
        for product, (eps, rss) in results.items():
            print(f"{name:<20}{product:<12}{eps:>14,.0f}{rss / 1024:>14.1f}")
    for name, results in rows:
        if "vector" in results:
            lb, vec = results["logbridge"], results["vector"]
            print(f"{name}: logbridge / vector: {lb[0] / vec[0]:.2f}x events/s, {lb[1] / max(vec[1], 1):.2f}x peak RSS")
    by_name = dict(rows)
    costs = [by_name["parse + modify"]["logbridge"][0] / by_name["remap"]["logbridge"][0]]
    for _ in range(COST_ROUNDS - 1):
        remap = run_pipeline("remap", "logbridge")
        plain = run_pipeline("parse + modify", "logbridge")
        costs.append(plain[0] / remap[0])
    rounds = ", ".join(f"{c:.2f}x" for c in costs)
    print(f"remap costs {sorted(costs)[len(costs) // 2]:.2f}x parse + modify (time per event; median of {rounds})")
    print(json.dumps({f"{name} {product}": {"events_per_sec": round(v[0]), "peak_rss_kib": v[1]} for name, r in rows for product, v in r.items()}))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--spans", type=int, default=1_000_000)
    ap.add_argument("--only", choices=["file", "otlp", "traces", "transforms"])
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="logbridge-bench-")
    try:
        if args.only in (None, "otlp"):
            bench_otlp(work, args.spans)
        if args.only in (None, "traces"):
            bench_traces(work, args.spans)
        if args.only in ("otlp", "traces"):
            return
        src = os.path.join(work, "input.log")
        expected = generate(src, args.lines)
        if args.only == "transforms":
            bench_transforms(work, src, args.lines)
            return
        size = os.path.getsize(src)
        print(f"input: {args.lines} lines, {size / args.lines:.0f} bytes/line, {expected} pass the filter; {os.cpu_count()} cores")
        results = {}
        secs, rss = bench_logbridge(work, src, expected)
        results["logbridge"] = (args.lines / secs, rss)
        rs = bench_rsyslog(work, src, args.lines)
        if rs:
            results["rsyslog (raw forward)"] = (args.lines / rs[0], rs[1])
        vec = bench_vector(work, src, expected)
        if vec:
            results["vector"] = (args.lines / vec[0], vec[1])
        print(f"{'pipeline':<24}{'events/s':>14}{'peak RSS MiB':>14}")
        for name, (eps, rss) in results.items():
            print(f"{name:<24}{eps:>14,.0f}{rss / 1024:>14.1f}")
        lb = results["logbridge"]
        for name, (eps, rss) in results.items():
            if name != "logbridge":
                print(f"logbridge / {name}: {lb[0] / eps:.2f}x events/s, {lb[1] / max(rss, 1):.2f}x peak RSS")
        print(json.dumps({k: {"events_per_sec": round(v[0]), "peak_rss_kib": v[1]} for k, v in results.items()}))
        if args.only is None:
            bench_transforms(work, src, args.lines)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
