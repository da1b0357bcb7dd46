"""The shop's recommendation service, rewritten in Python with the OpenTelemetry SDK.

The frontend asks it `GET /recommendations?product_id=12&limit=4` for every product page.
Run in place of the shop's own (`tracedojo up --external recommendation=...`), its span
joins the frontend's trace: lesson 11 of `tracedojo workshop`.

    OTEL_SERVICE_NAME=recommendation \\
    OTEL_RESOURCE_ATTRIBUTES=service.namespace=YOUR_NAME \\
    OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 \\
    python recommendation.py 9000
"""

import json
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from opentelemetry import baggage, propagate, trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

# The SDK reads the standard variables itself: who we are from OTEL_SERVICE_NAME and
# OTEL_RESOURCE_ATTRIBUTES, where to send from OTEL_EXPORTER_OTLP_ENDPOINT. Spans leave in
# batches, so no request waits for the network.
provider = TracerProvider()
provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
trace.set_tracer_provider(provider)
tracer = trace.get_tracer("recommendation")

# Real products of the shop, the same for every page: this lesson is about the trace, not
# the choice (the shop's own service asks catalog for the product's category).
PICKS = [
    {"id": 7, "name": "Heritage Cast-Iron Griddle", "price_cents": 5599, "image": "🍳"},
    {"id": 42, "name": "Heritage Carbon Steel Hand Fork", "price_cents": 2199, "image": "🌱"},
    {"id": 99, "name": "The Little Treasury of Folk Tales (Hardcover)", "price_cents": 2599, "image": "📚"},
    {"id": 150, "name": "Everyday Graphite LED Desk Lamp", "price_cents": 4799, "image": "🎧"},
    {"id": 201, "name": "Classic Linen T-Shirt", "price_cents": 4099, "image": "👕"},
]


class Recommendations(BaseHTTPRequestHandler):
    def do_GET(self):
        url = urlsplit(self.path)
        found = url.path == "/recommendations"
        # Where the caller is in its trace (traceparent) and facts about its user (baggage),
        # from the W3C headers: without this, our span would start a trace of its own.
        context = propagate.extract(self.headers)
        # Named as the shop's services name theirs: the method and the route.
        name = "GET /recommendations" if found else "GET"
        with tracer.start_as_current_span(name, context, trace.SpanKind.SERVER) as span:
            span.set_attributes({"http.request.method": "GET", "url.path": url.path})
            # Baggage travels by itself; a span shows only what we copy onto it.
            tier = baggage.get_baggage("tracedojo.user.tier", context)
            if tier:
                span.set_attribute("tracedojo.user.tier", tier)
            if not found:
                return self.answer(span, 404, {"error": "try GET /recommendations?product_id=12"})
            span.set_attribute("http.route", "/recommendations")
            # A missing or non-numeric product_id raises here, and the span records the exception.
            query = parse_qs(url.query)
            product_id = int(query["product_id"][0])
            limit = int(query.get("limit", ["4"])[0])
            picks = [p for p in PICKS if p["id"] != product_id][:limit]
            self.answer(span, 200, {"product_id": product_id, "products": picks})

    def answer(self, span, status, body):
        span.set_attribute("http.response.status_code", status)
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 9000
    server = ThreadingHTTPServer(("127.0.0.1", port), Recommendations)
    # `kill` stops it as Ctrl-C does, so the spans still waiting in the batch are sent.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    print(f"recommendation listening on http://127.0.0.1:{port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        provider.shutdown()
