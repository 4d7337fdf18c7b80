"""The floor of the single-event benchmark: a WSGI app that reads the body and answers
as /v1/t does (200, a small JSON body, the CORS header), and does nothing else. Served by
the same gunicorn, driven by the same clients, it shows what HTTP alone costs here."""

BODY = b'{"success": true, "accepted": 1, "duplicates": 0, "rejected": []}'
HEADERS = [
    ("Content-Type", "application/json"),
    ("Content-Length", str(len(BODY))),
    ("Access-Control-Allow-Origin", "https://shop.example.com"),
]


def application(environ, start_response):
    if environ["REQUEST_METHOD"] == "GET":
        start_response("405 Method Not Allowed", [("Content-Length", "0")])
        return [b""]
    environ["wsgi.input"].read()
    start_response("200 OK", HEADERS)
    return [BODY]
