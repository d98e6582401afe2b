#!/usr/bin/env python3
"""https-server.py ADDRESS DIR: the end-to-end tests' HTTPS server.

Listens on ADDRESS port 443 (an IPv6 address, "::" included, takes IPv4
too, as ::ffff:a.b.c.d) with DIR/cert.pem and DIR/key.pem; one thread a
connection (one whose packets a test drops must not hold up the next);
logs nothing.
  GET /FILE    DIR/FILE
  GET /slow/N  20 kB every 0.1 s for N seconds: a flow that lasts (socket
               buffers would swallow a file at once)
  PUT /ANY     "LENGTH SHA256\\n" of the body read
"""
import hashlib
import http.server
import os
import socket
import ssl
import sys
import time

address, root = sys.argv[1], os.path.abspath(sys.argv[2])
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(os.path.join(root, "cert.pem"), os.path.join(root, "key.pem"))


class Handler(http.server.SimpleHTTPRequestHandler):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, directory=root, **kwargs)

    def log_message(self, *args):
        pass

    def do_GET(self):
        if not self.path.startswith("/slow/"):
            return super().do_GET()
        n = int(self.path[6:]) * 10
        self.send_response(200)
        self.send_header("Content-Length", str(n * 20000))
        self.end_headers()
        for _ in range(n):
            self.wfile.write(bytes(20000))
            time.sleep(0.1)

    def do_PUT(self):
        want = int(self.headers["Content-Length"])
        left, digest = want, hashlib.sha256()
        while left:
            data = self.rfile.read(min(left, 65536))
            if not data:
                break
            digest.update(data)
            left -= len(data)
        body = ("%d %s\n" % (want - left, digest.hexdigest())).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Server(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6 if ":" in address else socket.AF_INET


srv = Server((address, 443), Handler)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True, do_handshake_on_connect=False)
srv.serve_forever()
