"""Schemathesis hooks for scripts/schemathesis: how to send NDJSON.

The OpenAPI document describes an NDJSON body as the array of its lines'
objects (as OpenAPI 3.2's `itemSchema` does for sequential media types);
each item goes on the wire as one JSON line.
"""

import json

import schemathesis


@schemathesis.serializer("application/x-ndjson")
def ndjson(ctx, value):
    items = value if isinstance(value, list) else [value]
    return "".join(json.dumps(item) + "\n" for item in items).encode()
