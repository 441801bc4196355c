"""Sends spans with py_zipkin (Zipkin v2 JSON over HTTP, as the Zipkin
collector receives them) and prints the bodies it sent, so a test can
compare them with what logbridge received.

usage: zipkin_emit.py URL
"""

import json
import sys
import urllib.request

from py_zipkin import Encoding, Kind
from py_zipkin.transport import BaseTransportHandler
from py_zipkin.zipkin import zipkin_span

url = sys.argv[1]
sent = []


class HttpTransport(BaseTransportHandler):
    def get_max_payload_bytes(self):
        return None

    def send(self, payload):
        if isinstance(payload, str):
            payload = payload.encode()
        sent.extend(json.loads(payload))
        request = urllib.request.Request(url, data=payload, method="POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request) as response:
            if response.status != 202:
                raise RuntimeError(f"zipkin endpoint answered {response.status}")


with zipkin_span(service_name="frontend", span_name="GET /home", transport_handler=HttpTransport(),
                 sample_rate=100.0, encoding=Encoding.V2_JSON, kind=Kind.SERVER,
                 binary_annotations={"http.method": "GET", "http.path": "/home"}) as root:
    root.add_annotation("rendered")
    with zipkin_span(service_name="frontend", span_name="call backend", kind=Kind.CLIENT,
                     binary_annotations={"peer": "backend"}):
        pass
    root.update_binary_annotations({"user": "ann"})
print(json.dumps(sent))
