// The apiserver stand-in that `server` hosts run: NOT a kube-apiserver, just something with the same
// health endpoints over TLS on :6443, so haproxy's checks and the VIP can be tested for real, and a
// never-ending /watch stream, so long-lived connections through haproxy (its timeouts, reloads) can be too.
// python3 is in the base image; the script and unit are baked into the cached rootfs and enabled only
// on server hosts.

export const STANDIN_SCRIPT_PATH = '/usr/local/lib/ha-provision/apiserver-standin.py';
export const STANDIN_UNIT = 'apiserver-standin.service';
export const STANDIN_TLS_DIR = '/etc/apiserver-standin';
export const STANDIN_UNHEALTHY = '/run/apiserver-standin/unhealthy';
/** A second listener, as RKE2's supervisor port next to 6443 (cluster.extraPorts is tested on it). */
export const STANDIN_EXTRA_PORT = 9345;

export const STANDIN_SCRIPT = `#!/usr/bin/python3
# apiserver stand-in for the ha-provision lab. It is NOT a Kubernetes API server: it answers
# GET/HEAD /healthz, /readyz and /livez over HTTPS with 200 "ok" (500 while ${STANDIN_UNHEALTHY}
# exists) and 404 for anything else, which is all a load balancer's health check looks at.
# GET /watch streams like a Kubernetes watch: 200, no Content-Length (HTTP/1.0: the body ends when the
# connection closes), one line "tick N" every 100 ms for as long as the client stays connected.
# It listens on every port given (default 6443; the lab also gives 9345, RKE2's supervisor port), and
# GET /port answers which one took the request.
import os
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORTS = [int(p) for p in sys.argv[1:]] or [6443]
UNHEALTHY = "${STANDIN_UNHEALTHY}"
HEALTH_PATHS = {"/healthz", "/readyz", "/livez"}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    server_version = "apiserver-standin"

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path == "/watch":
            self.watch()
        elif path == "/port":
            self.reply(200, str(self.server.server_address[1]).encode())
        elif path in HEALTH_PATHS:
            if os.path.exists(UNHEALTHY):
                self.reply(500, b"unhealthy")
            else:
                self.reply(200, b"ok")
        else:
            self.reply(404, b"404 page not found\\n")

    do_HEAD = do_GET

    def watch(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.end_headers()
        if self.command == "HEAD":
            return
        n = 0
        try:
            while True:
                n += 1
                self.wfile.write(b"tick %d\\n" % n)
                self.wfile.flush()
                time.sleep(0.1)
        except OSError:
            # The client hung up (reset, broken pipe, TLS error: all OSError), or stopped reading long
            # enough to fill the buffers and then the socket's 10 s timeout: the stream and its thread end.
            pass

    def reply(self, code, body):
        self.send_response(code)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, *args):
        pass


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address, context):
        super().__init__(address, Handler)
        self.context = context

    def finish_request(self, request, client_address):
        # The TLS handshake happens here, in the connection's own thread: a client that connects and
        # never speaks TLS (a plain TCP check) then blocks only itself, never the accept loop.
        request.settimeout(10)
        try:
            conn = self.context.wrap_socket(request, server_side=True)
        except (OSError, ValueError):
            return
        try:
            self.RequestHandlerClass(conn, client_address, self)
        except OSError:
            pass
        finally:
            conn.close()


def main():
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain("${STANDIN_TLS_DIR}/tls.crt", "${STANDIN_TLS_DIR}/tls.key")
    servers = [Server(("0.0.0.0", port), context) for port in PORTS]
    for extra in servers[1:]:
        threading.Thread(target=extra.serve_forever, daemon=True).start()
    servers[0].serve_forever()


if __name__ == "__main__":
    main()
`;

export const STANDIN_UNIT_TEXT = `[Unit]
Description=apiserver stand-in for the ha-provision lab (HTTPS :6443 and :9345, /healthz /readyz /livez /watch /port; not a kube-apiserver)
After=network.target

[Service]
ExecStart=/usr/bin/python3 ${STANDIN_SCRIPT_PATH} 6443 ${STANDIN_EXTRA_PORT}
RuntimeDirectory=apiserver-standin
RuntimeDirectoryPreserve=yes
Restart=always
RestartSec=1

[Install]
WantedBy=multi-user.target
`;
