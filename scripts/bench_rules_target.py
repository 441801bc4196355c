"""Scrape target for scripts/bench-rules: the 100,000 counter series of the
rules bench (1,000 metrics x 5 jobs x 5 instances x 4 codes), growing on
every scrape the way the bench's workload grows them."""

import http.server
import random
import sys

JOBS, INSTANCES, CODES = 5, 5, ["200", "404", "500", "503"]
RULES = 1000
rng = random.Random(7)
names = []
values = []
for rule in range(RULES):
    metric = f"app_requests_total_{rule}"
    hot = rule % 2 == 1 and (rule // 2) % 10 == 0
    for job in range(JOBS):
        for instance in range(INSTANCES):
            for code in CODES:
                names.append(
                    f'{metric}{{job="svc-{job}",instance="10.0.{job}.{instance}:8080",code="{code}"}}'
                )
                values.append([rng.randrange(1_000_000), code, hot])


def scrape():
    lines = []
    for name, v in zip(names, values):
        code, hot = v[1], v[2]
        if code == "200":
            v[0] += rng.randrange(20)
        elif code == "404":
            v[0] += rng.randrange(3)
        elif code == "500" and hot:
            v[0] += rng.randrange(8)
        else:
            v[0] += rng.randrange(4) == 0
        lines.append(f"{name} {v[0]}")
    return ("\n".join(lines) + "\n").encode()


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = scrape()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
