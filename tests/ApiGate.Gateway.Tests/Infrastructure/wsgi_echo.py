"""A WSGI backend on loopback for the header-spoofing tests: answers every request with the CGI variables
(HTTP_*) it was given, as JSON. WSGI/CGI servers read both '-' and '_' in header names as '_', so this shows what a
backend of that kind believes the client sent. Prints the port it listens on, then serves until killed."""
import json
import sys
from wsgiref.simple_server import WSGIRequestHandler, make_server


def app(environ, start_response):
    seen = {k: v for k, v in environ.items() if k.startswith("HTTP_")}
    seen["PATH_INFO"] = environ.get("PATH_INFO", "")
    body = json.dumps(seen).encode("utf-8")
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


class QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):
        pass


server = make_server("127.0.0.1", 0, app, handler_class=QuietHandler)
print(server.server_port, flush=True)
server.serve_forever()
