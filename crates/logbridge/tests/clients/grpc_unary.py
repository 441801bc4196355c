"""Sends unary gRPC calls with raw request bytes through grpcio (the
reference gRPC implementation), so a test can send what no SDK would:
undecodable or oversized messages.

usage: grpc_unary.py ADDRESS < calls
Each line of stdin is `METHOD FILE COMPRESSION` (COMPRESSION: gzip or
none); each call prints one JSON line: {"code": "OK"|..., "details": ...}.
"""

import json
import sys

import grpc

address = sys.argv[1]
channel = grpc.insecure_channel(
    address,
    options=[("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1)],
)
for line in sys.stdin:
    method, path, compression = line.split()
    with open(path, "rb") as f:
        request = f.read()
    call = channel.unary_unary(
        method, request_serializer=lambda b: b, response_deserializer=lambda b: b
    )
    kind = grpc.Compression.Gzip if compression == "gzip" else grpc.Compression.NoCompression
    try:
        call(request, timeout=60, compression=kind)
        print(json.dumps({"code": "OK", "details": ""}), flush=True)
    except grpc.RpcError as e:
        print(json.dumps({"code": e.code().name, "details": e.details()}), flush=True)
