#!/usr/bin/env python3
"""A fault-injecting HTTP/1.1 proxy for distill's registry tests (stdlib only).

It listens on 127.0.0.1 (a free port, written to --port-file) and forwards
each request to one upstream registry (plain HTTP), keeping connections
alive on both sides. For each request it draws one fault at random (seeded,
so a run can be repeated) with these rates:

  --reset R        reset the client's connection (TCP RST) after reading the
                   request, without forwarding it
  --reset-after R  forward the request, let the registry act on it, then
                   reset the client's connection instead of answering
  --status R       answer 500, 503 or 429 instead of forwarding (503 and 429
                   with "Retry-After: 0" or "1")
  --truncate R     forward, then send the response headers and only part of
                   the body (half of it, at most 64 KiB before the cut) and
                   reset; responses without a body are reset instead
  --flip R         (pull corruption) for a 200 GET of /v2/.../blobs/..., flip
                   one bit of one byte in the middle of the body; headers,
                   length and the rest stay as the registry sent them

--max-consecutive N: after N faults in a row on the same request (method and
path without query), the next one goes through untouched, so a client that
retries a request N times always gets it through (0 = no limit; --flip is
not limited).

What it never does: forward part of a request, or change a request body.
A request reaches the registry whole and byte for byte as the client sent it
(only an "Expect: 100-continue" header is answered by the proxy itself and
dropped), or not at all. So whatever the registry accepts is what the client
meant to send.

--log gets one line per request: connection number, method, path (query cut
at 60 characters), the fault or "ok", the upstream status and body bytes
sent. Authorization headers and bodies are never logged.
"""
import argparse
import os
import random
import re
import socket
import struct
import sys
import threading
import time

BLOB_PATH = re.compile(r"^/v2/.+/blobs/[a-z0-9]+:[a-f0-9]+$")


class ClientGone(Exception):
    pass


class Reader:
    """Buffered reads of lines and exact byte counts from a socket."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise ClientGone("connection closed")
        self.buf += data

    def line(self, limit=65536):
        while b"\r\n" not in self.buf:
            if len(self.buf) > limit:
                raise ClientGone("header line too long")
            self._fill()
        i = self.buf.index(b"\r\n") + 2
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def exact(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def some(self, maxn=65536):
        """Up to maxn bytes (at least 1), b"" at EOF."""
        if not self.buf:
            data = self.sock.recv(maxn)
            return data
        out, self.buf = self.buf[:maxn], self.buf[maxn:]
        return out


def read_head(r: Reader):
    """(start line, [(name, value)], raw head bytes)."""
    start = r.line()
    while start == b"\r\n":  # tolerate stray CRLF between requests
        start = r.line()
    headers, raw = [], [start]
    while True:
        ln = r.line()
        raw.append(ln)
        if ln == b"\r\n":
            break
        name, _, value = ln.decode("latin-1").partition(":")
        headers.append((name.strip(), value.strip()))
    return start.decode("latin-1").rstrip("\r\n"), headers, b"".join(raw)


def hget(headers, name):
    name = name.lower()
    for k, v in headers:
        if k.lower() == name:
            return v
    return None


def read_chunked_raw(r: Reader):
    """The raw bytes of a chunked body, trailers included."""
    out = []
    while True:
        size_line = r.line()
        out.append(size_line)
        size = int(size_line.split(b";")[0].strip(), 16)
        if size == 0:
            while True:
                t = r.line()
                out.append(t)
                if t == b"\r\n":
                    return b"".join(out)
        out.append(r.exact(size + 2))


def rst_close(sock):
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


class Proxy:
    def __init__(self, args):
        self.args = args
        self.rng = random.Random(args.seed)
        self.lock = threading.Lock()
        self.consecutive = {}
        self.conn_no = 0
        uh, _, up = args.upstream.rpartition(":")
        self.upstream = (uh, int(up))

    def log(self, line):
        with self.lock:
            with open(self.args.log, "a", encoding="utf-8") as f:
                f.write(line + "\n")

    def draw(self, method, path):
        """The fault for one request: None, reset, reset-after, status, truncate."""
        key = method + " " + path.split("?", 1)[0]
        with self.lock:
            x = self.rng.random()
            fault = None
            for name, rate in (
                ("reset", self.args.reset),
                ("status", self.args.status),
                ("reset-after", self.args.reset_after),
                ("truncate", self.args.truncate),
            ):
                if x < rate:
                    fault = name
                    break
                x -= rate
            n = self.consecutive.get(key, 0)
            if fault and self.args.max_consecutive and n >= self.args.max_consecutive:
                fault = None
            self.consecutive[key] = n + 1 if fault else 0
            flip = self.rng.random() < self.args.flip
            status = self.rng.choice((500, 503, 429))
            retry_after = self.rng.choice(("0", "1"))
            return fault, flip, status, retry_after

    def serve(self, client, no):
        client.settimeout(120)
        r = Reader(client)
        up = None
        upr = None
        try:
            # A TLS ClientHello on this plain port (clients that try HTTPS
            # first): answer as a plain HTTP server does, at once, so the
            # client falls back instead of waiting for a ServerHello.
            try:
                r._fill()
            except (ClientGone, OSError):
                return
            if r.buf[:1] == b"\x16":
                self.log(f"#{no} TLS handshake on the plain port: 400")
                client.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                client.close()
                return
            while True:
                try:
                    start, headers, raw_head = read_head(r)
                except (ClientGone, OSError):
                    return
                parts = start.split(" ")
                if len(parts) != 3:
                    rst_close(client)
                    return
                method, path, _ = parts
                short = path if len(path) <= 60 else path[:57] + "..."
                fault, flip, status, retry_after = self.draw(method, path)
                expect = (hget(headers, "Expect") or "").lower() == "100-continue"

                if fault == "reset":
                    self.log(f"#{no} {method} {short} fault=reset")
                    rst_close(client)
                    return
                if fault == "status" and expect:
                    # Answer before the body comes, and close: the client
                    # may or may not send the body now.
                    self.send_status(client, status, retry_after, close=True)
                    self.log(f"#{no} {method} {short} fault=status-{status} (before body)")
                    client.close()
                    return

                if expect:
                    client.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
                te = (hget(headers, "Transfer-Encoding") or "").lower()
                if "chunked" in te:
                    body = read_chunked_raw(r)
                else:
                    body = r.exact(int(hget(headers, "Content-Length") or 0))

                if fault == "status":
                    self.send_status(client, status, retry_after, close=False)
                    self.log(f"#{no} {method} {short} fault=status-{status} retry-after={retry_after if status != 500 else '-'}")
                    continue

                # Forward the whole request at once, Expect dropped.
                if expect:
                    lines = raw_head.split(b"\r\n")
                    raw_head = b"\r\n".join(l for l in lines if not l.lower().startswith(b"expect:"))
                if up is None:
                    up = socket.create_connection(self.upstream, timeout=120)
                    upr = Reader(up)
                try:
                    up.sendall(raw_head + body)
                    st, rh, rraw = read_head(upr)
                    while st.split(" ")[1].startswith("1"):  # interim responses
                        st, rh, rraw = read_head(upr)
                except (ClientGone, OSError) as e:
                    self.log(f"#{no} {method} {short} upstream-error={e}")
                    rst_close(client)
                    return
                code = int(st.split(" ")[1])

                if fault == "reset-after":
                    self.log(f"#{no} {method} {short} fault=reset-after upstream={code}")
                    rst_close(client)
                    return

                # Body framing of the response.
                no_body = method == "HEAD" or code in (204, 304) or 100 <= code < 200
                rte = (hget(rh, "Transfer-Encoding") or "").lower()
                clen = hget(rh, "Content-Length")
                close_after = (hget(rh, "Connection") or "").lower() == "close"
                if no_body:
                    length = 0
                elif "chunked" in rte:
                    length = None  # chunked: forwarded raw below
                elif clen is not None:
                    length = int(clen)
                else:
                    length = -1  # until close
                    close_after = True

                flip_here = bool(flip and method == "GET" and code == 200 and length and length >= max(1, self.args.flip_min_bytes)
                                 and BLOB_PATH.match(path.split("?")[0]))
                if fault == "truncate" and not length:
                    # Nothing to cut: reset instead, after the head.
                    client.sendall(rraw)
                    self.log(f"#{no} {method} {short} fault=truncate(no body: reset) upstream={code}")
                    rst_close(client)
                    return

                client.sendall(rraw)
                sent = 0
                if length is None:
                    chunked = read_chunked_raw(upr)
                    if fault == "truncate":
                        cut = max(1, min(len(chunked) // 2, 65536))
                        client.sendall(chunked[:cut])
                        self.log(f"#{no} {method} {short} fault=truncate upstream={code} sent={cut}/{len(chunked)}")
                        rst_close(client)
                        return
                    client.sendall(chunked)
                    sent = len(chunked)
                elif length != 0:
                    total = length
                    cut = None
                    if fault == "truncate":
                        cut = max(1, min(total // 2, 65536)) if total > 0 else 65536
                    flip_at = total // 2 if flip_here else None
                    while total < 0 or sent < total:
                        want = 65536 if total < 0 else min(65536, total - sent)
                        data = upr.some(want)
                        if not data:
                            break
                        if flip_at is not None and sent <= flip_at < sent + len(data):
                            i = flip_at - sent
                            data = data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1 :]
                        if cut is not None and sent + len(data) >= cut:
                            client.sendall(data[: cut - sent])
                            self.log(f"#{no} {method} {short} fault=truncate upstream={code} sent={cut}/{total}")
                            rst_close(client)
                            return
                        client.sendall(data)
                        sent += len(data)
                    if total >= 0 and sent < total:
                        self.log(f"#{no} {method} {short} upstream closed early {sent}/{total}")
                        rst_close(client)
                        return
                note = " fault=flip" if flip_here else ""
                self.log(f"#{no} {method} {short} ok{note} upstream={code} sent={sent}")
                if close_after:
                    client.close()
                    return
        except (ClientGone, OSError, ValueError, IndexError) as e:
            self.log(f"#{no} connection error: {e}")
            rst_close(client)
        finally:
            if up is not None:
                try:
                    up.close()
                except OSError:
                    pass

    def send_status(self, client, status, retry_after, close):
        code = {500: "UNKNOWN", 503: "UNAVAILABLE", 429: "TOOMANYREQUESTS"}[status]
        reason = {500: "Internal Server Error", 503: "Service Unavailable", 429: "Too Many Requests"}[status]
        body = ('{"errors":[{"code":"%s","message":"injected by the e2e fault proxy"}]}' % code).encode()
        head = [f"HTTP/1.1 {status} {reason}", "Content-Type: application/json", f"Content-Length: {len(body)}"]
        if status != 500:
            head.append(f"Retry-After: {retry_after}")
        if close:
            head.append("Connection: close")
        client.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--upstream", required=True, help="HOST:PORT of a plain-HTTP registry")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--reset", type=float, default=0.0)
    ap.add_argument("--reset-after", type=float, default=0.0)
    ap.add_argument("--status", type=float, default=0.0)
    ap.add_argument("--truncate", type=float, default=0.0)
    ap.add_argument("--flip", type=float, default=0.0)
    ap.add_argument("--flip-min-bytes", type=int, default=1, help="--flip only bodies at least this long")
    ap.add_argument("--max-consecutive", type=int, default=3)
    ap.add_argument("--log", required=True)
    args = ap.parse_args()
    if args.reset + args.reset_after + args.status + args.truncate > 1.0:
        ap.error("the fault rates add up to more than 1")

    proxy = Proxy(args)
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(64)
    tmp = args.port_file + ".tmp"
    with open(tmp, "w", encoding="ascii") as f:
        f.write(f"{ls.getsockname()[1]}\n")
    os.replace(tmp, args.port_file)
    proxy.log(f"listening on 127.0.0.1:{ls.getsockname()[1]} -> {args.upstream} seed={args.seed} "
              f"reset={args.reset} reset-after={args.reset_after} status={args.status} "
              f"truncate={args.truncate} flip={args.flip} max-consecutive={args.max_consecutive}")
    while True:
        c, _ = ls.accept()
        with proxy.lock:
            proxy.conn_no += 1
            no = proxy.conn_no
        threading.Thread(target=proxy.serve, args=(c, no), daemon=True).start()


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(0)
