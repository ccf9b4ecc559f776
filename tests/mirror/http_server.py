#!/usr/bin/env python3
"""Tiny static HTTP/1.1 server for distill's test mirror.

Usage: http_server.py DIR PORTFILE

Binds 127.0.0.1 on a free port (port 0), writes its PID to PORTFILE.pid,
then the chosen port to PORTFILE (atomically, last: once PORTFILE exists the
server accepts connections), and serves DIR until killed. One line per
request is appended to PORTFILE.log:
    METHOD PATH STATUS BYTES_SENT RANGE_HEADER CLIENT_PORT
(the client's port tells connections apart: requests on one kept-alive
connection share it).

GET and HEAD on files support:
  - Range: bytes=A-B, bytes=A-, bytes=-N (a single range) -> 206 with
    Content-Range; unsatisfiable -> 416 with "Content-Range: bytes */SIZE";
    several ranges -> the whole file (200), as RFC 9110 allows;
  - If-Range (ETag or HTTP date): range honoured only if it still matches;
  - If-None-Match / If-Modified-Since -> 304;
  - ETag, Last-Modified, Accept-Ranges: bytes, Content-Length.
Everything else (directories, errors) is http.server's default behaviour.
"""

import email.utils
import http.server
import os
import re
import socketserver
import sys
import threading

RANGE_RE = re.compile(r"^bytes=(\d*)-(\d*)$")


class Handler(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    log_lock = threading.Lock()
    log_path = None

    def log_message(self, format, *args):  # noqa: A002 - http.server's name
        pass  # quiet stderr; see log_request

    def log_request(self, code="-", size="-"):
        # Called from send_response(); the line is written once the response
        # body is out (handle_one_request), with the bytes actually sent.
        self._pending_code = getattr(code, "value", code)

    def handle_one_request(self):
        self._pending_code = None
        self._sent = "-"
        try:
            super().handle_one_request()
        finally:
            if self._pending_code is not None and self.log_path:
                rng = self.headers.get("Range", "-") if getattr(self, "headers", None) else "-"
                line = "%s %s %s %s %s %s\n" % (self.command, self.path, self._pending_code,
                                                self._sent, rng, self.client_address[1])
                with self.log_lock, open(self.log_path, "a", encoding="utf-8") as f:
                    f.write(line)

    def do_GET(self):
        self._serve(send_body=True)

    def do_HEAD(self):
        self._serve(send_body=False)

    def _serve(self, send_body):
        path = self.translate_path(self.path)
        if not os.path.isfile(path):
            # directories, redirects, 404: the stock implementation
            if send_body:
                return super().do_GET()
            return super().do_HEAD()
        try:
            f = open(path, "rb")
        except OSError:
            self.send_error(404, "File not found")
            return
        with f:
            st = os.fstat(f.fileno())
            size = st.st_size
            mtime = int(st.st_mtime)
            etag = '"%x-%x"' % (st.st_mtime_ns, size)
            last_mod = email.utils.formatdate(mtime, usegmt=True)

            # Conditional GET (apt uses If-Modified-Since on indexes).
            inm = self.headers.get("If-None-Match")
            ims = self.headers.get("If-Modified-Since")
            if inm is not None:
                if etag in [t.strip() for t in inm.split(",")] or inm.strip() == "*":
                    return self._not_modified(etag, last_mod)
            elif ims is not None:
                try:
                    t = email.utils.parsedate_to_datetime(ims).timestamp()
                    if mtime <= t:
                        return self._not_modified(etag, last_mod)
                except (TypeError, ValueError, IndexError, OverflowError):
                    pass

            start, end = 0, size - 1
            status = 200
            rng = self.headers.get("Range")
            if rng is not None and self._if_range_ok(etag, mtime):
                m = RANGE_RE.match(rng.strip().replace(" ", ""))
                if m and (m.group(1) or m.group(2)):
                    a, b = m.group(1), m.group(2)
                    if a == "":                      # suffix: last N bytes
                        n = int(b)
                        if n == 0:
                            return self._unsatisfiable(size)
                        start, end = max(0, size - n), size - 1
                    else:
                        start = int(a)
                        end = min(int(b), size - 1) if b else size - 1
                        if start >= size or (b and int(b) < start):
                            return self._unsatisfiable(size)
                    status = 206
                # malformed or multiple ranges: ignore Range, send it all

            length = end - start + 1 if size else 0
            self.send_response(status)
            self.send_header("Content-Type", self.guess_type(path))
            self.send_header("Content-Length", str(length))
            self.send_header("Last-Modified", last_mod)
            self.send_header("ETag", etag)
            self.send_header("Accept-Ranges", "bytes")
            if status == 206:
                self.send_header("Content-Range", "bytes %d-%d/%d" % (start, end, size))
            self.end_headers()
            self._sent = 0
            if send_body and length:
                f.seek(start)
                remaining = length
                while remaining:
                    chunk = f.read(min(65536, remaining))
                    if not chunk:
                        break
                    try:
                        self.wfile.write(chunk)
                    except (BrokenPipeError, ConnectionResetError):
                        self.close_connection = True
                        return
                    remaining -= len(chunk)
                    self._sent += len(chunk)

    def _if_range_ok(self, etag, mtime):
        ir = self.headers.get("If-Range")
        if ir is None:
            return True
        ir = ir.strip()
        if ir.startswith('"') or ir.startswith("W/"):
            return ir == etag
        try:
            return int(email.utils.parsedate_to_datetime(ir).timestamp()) == mtime
        except (TypeError, ValueError, IndexError, OverflowError):
            return False

    def _not_modified(self, etag, last_mod):
        self.send_response(304)
        self.send_header("ETag", etag)
        self.send_header("Last-Modified", last_mod)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _unsatisfiable(self, size):
        self.send_response(416)
        self.send_header("Content-Range", "bytes */%d" % size)
        self.send_header("Content-Length", "0")
        self.end_headers()


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    if len(sys.argv) != 3:
        sys.stderr.write("usage: http_server.py DIR PORTFILE\n")
        return 2
    root, portfile = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    if not os.path.isdir(root):
        sys.stderr.write("http_server.py: not a directory: %s\n" % root)
        return 1
    Handler.log_path = portfile + ".log"

    def factory(*args, **kwargs):
        return Handler(*args, directory=root, **kwargs)

    httpd = Server(("127.0.0.1", 0), factory)
    port = httpd.server_address[1]
    with open(portfile + ".pid.tmp", "w", encoding="ascii") as f:
        f.write("%d\n" % os.getpid())
    os.replace(portfile + ".pid.tmp", portfile + ".pid")
    with open(portfile + ".tmp", "w", encoding="ascii") as f:
        f.write("%d\n" % port)
    os.replace(portfile + ".tmp", portfile)
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
