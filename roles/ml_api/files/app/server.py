"""The model's API: POST /predict with {"features": [[...4 numbers...], ...]} answers
{"prediction": [...], "classes": [...]}; GET /predict?features=5.1,3.5,1.4,0.2 does the
same for one sample (a sample of its own when none is given); GET /health for checks.
The standard library and numpy; the model is model.json, written by train.py."""
import json
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

HERE = os.path.dirname(os.path.abspath(__file__))
import numpy as np

with open(os.path.join(HERE, "model.json")) as f:
    MODEL = json.load(f)
MEAN, STD, WEIGHTS = (np.array(MODEL[k]) for k in ("mean", "std", "weights"))
SAMPLE = [[5.1, 3.5, 1.4, 0.2]]


def predict(rows):
    x = (np.array(rows, dtype=float) - MEAN) / STD
    labels = (np.hstack([x, np.ones((len(x), 1))]) @ WEIGHTS).argmax(axis=1)
    return {"prediction": [int(i) for i in labels], "classes": [MODEL["classes"][int(i)] for i in labels]}


class Handler(BaseHTTPRequestHandler):
    def _send(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        url = urlparse(self.path)
        if url.path == "/health":
            return self._send(200, {"status": "ok", "model": MODEL["kind"], "test_accuracy": MODEL["test_accuracy"]})
        if url.path == "/predict":
            raw = parse_qs(url.query).get("features")
            try:
                rows = [[float(v) for v in raw[0].split(",")]] if raw else SAMPLE
                return self._send(200, predict(rows))
            except ValueError as e:
                return self._send(400, {"error": str(e)})
        return self._send(404, {"error": "not found", "try": ["/health", "/predict"]})

    def do_POST(self):
        if urlparse(self.path).path != "/predict":
            return self._send(404, {"error": "not found"})
        try:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            rows = body.get("features", SAMPLE)
            if rows and not isinstance(rows[0], list):
                rows = [rows]
            return self._send(200, predict(rows))
        except (ValueError, TypeError, AttributeError) as e:
            return self._send(400, {"error": str(e)})

    def log_message(self, fmt, *args):
        print("%s - %s" % (self.address_string(), fmt % args), flush=True)


if __name__ == "__main__":
    port = int(os.environ.get("PORT", "8000"))
    print(f"serving {MODEL['kind']} on :{port}", flush=True)
    ThreadingHTTPServer(("0.0.0.0", port), Handler).serve_forever()
