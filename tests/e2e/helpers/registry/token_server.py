#!/usr/bin/env python3
"""A Docker registry token server for distill's end-to-end tests (stdlib only).

It serves the token flow of distribution's docs/spec/auth/token.md for a
registry configured with

    auth:
      token: {realm: https://127.0.0.1:PORT/token, service: SERVICE,
              issuer: ISSUER, rootcertbundle: SIGNING_CERT}

    GET  /token?service=S&scope=repository:NAME:pull,push[&scope=...][&account=U]
         with "Authorization: Basic base64(user:password)" (or none: anonymous)
    POST /token  (OAuth2 form: grant_type=password|refresh_token, username,
         password, refresh_token, service, client_id, scope, access_type)

It answers {"token": JWT, "access_token": JWT, "expires_in": N, "issued_at": T}
(plus "scope" and, for access_type=offline, "refresh_token" on POST). The JWT
is RS256, signed by `openssl dgst -sha256 -sign KEY`, with the signing
certificate in the "x5c" header (distribution 2.8 checks it against
rootcertbundle) and an "access" claim that grants the intersection of the
requested actions and the user's allowed ones (a partial grant is no error:
the registry refuses later). A wrong password or unknown user gets 401;
anonymous requests get a token that grants nothing.

Users come from a JSON file: {"NAME": {"password": "...", "actions": ["pull",
"push", "delete"]}, ...}.

One line per request goes to --log: the method, the service, the account,
the requested and granted scopes and the status; never a password, a token
or an Authorization header.
"""
import argparse
import base64
import json
import os
import secrets
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def pem_to_der_b64(path: str) -> str:
    """The first certificate of a PEM file as standard base64 of its DER."""
    lines, inside = [], False
    with open(path, encoding="ascii") as f:
        for line in f:
            line = line.strip()
            if line.startswith("-----BEGIN CERTIFICATE"):
                inside = True
            elif line.startswith("-----END CERTIFICATE"):
                break
            elif inside:
                lines.append(line)
    if not lines:
        raise SystemExit(f"token_server: no certificate in {path}")
    return "".join(lines)  # PEM body is already standard base64 of the DER


def parse_scope(scope: str):
    """resourcetype ":" resourcename ":" actions; the name may hold ':port'."""
    first = scope.find(":")
    last = scope.rfind(":")
    if first < 0 or last <= first:
        return None
    rtype = scope[:first]
    if "(" in rtype:  # deprecated "(class)" suffix
        rtype = rtype[: rtype.index("(")]
    name = scope[first + 1 : last]
    actions = [a for a in scope[last + 1 :].split(",") if a]
    return rtype, name, actions


class TokenServer:
    def __init__(self, args):
        self.args = args
        with open(args.users, encoding="utf-8") as f:
            self.users = json.load(f)
        self.x5c = pem_to_der_b64(args.sign_cert)
        self.refresh_tokens = {}
        self.lock = threading.Lock()
        self.log_lock = threading.Lock()
        self.issued = 0

    def log(self, line: str):
        with self.log_lock:
            with open(self.args.log, "a", encoding="utf-8") as f:
                f.write(f"{time.strftime('%H:%M:%S')} {line}\n")

    def sign(self, payload: bytes) -> bytes:
        p = subprocess.run(
            ["openssl", "dgst", "-sha256", "-sign", self.args.sign_key],
            input=payload,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            check=False,
        )
        if p.returncode != 0:
            raise RuntimeError("openssl dgst -sign failed: " + p.stderr.decode(errors="replace"))
        return p.stdout

    def grant(self, user, scopes):
        allowed = set(self.users[user]["actions"]) if user else set()
        access = []
        for s in scopes:
            parsed = parse_scope(s)
            if not parsed:
                continue
            rtype, name, actions = parsed
            if rtype != "repository":
                continue
            if "*" in actions:
                actions = ["pull", "push", "delete"]
            granted = [a for a in actions if a in allowed]
            # Like Docker Hub: the requested resource is listed even when
            # nothing is granted on it.
            access.append({"type": "repository", "name": name, "actions": granted})
        return access

    def make_token(self, user, service, access):
        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256", "x5c": [self.x5c]}
        claims = {
            "iss": self.args.issuer,
            "sub": user or "",
            "aud": service,
            "exp": now + self.args.expires_in,
            "nbf": now - 30,
            "iat": now,
            "jti": secrets.token_hex(16),
            "access": access,
        }
        signing_input = (
            b64url(json.dumps(header, separators=(",", ":")).encode())
            + "."
            + b64url(json.dumps(claims, separators=(",", ":")).encode())
        )
        sig = self.sign(signing_input.encode("ascii"))
        with self.lock:
            self.issued += 1
        return signing_input + "." + b64url(sig)

    def check_password(self, user, password):
        u = self.users.get(user)
        return u is not None and secrets.compare_digest(u["password"].encode(), password.encode())


def make_handler(ts: TokenServer):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "distill-e2e-token/1"
        timeout = 60

        def log_message(self, fmt, *a):  # quiet stderr; our own log is below
            pass

        def send_json(self, status, obj, extra=None):
            body = json.dumps(obj).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for k, v in (extra or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def unauthorized(self, what, why):
            ts.log(f"{what} -> 401 ({why})")
            self.send_json(
                401,
                {"errors": [{"code": "UNAUTHORIZED", "message": why}]},
                {"WWW-Authenticate": 'Basic realm="distill-e2e-token"'},
            )

        def basic_user(self):
            """(user, ok, present) from an Authorization: Basic header."""
            h = self.headers.get("Authorization")
            if not h:
                return None, True, False
            scheme, _, rest = h.partition(" ")
            if scheme.lower() != "basic":
                return None, False, True
            try:
                raw = base64.b64decode(rest.strip(), validate=True).decode("utf-8")
            except Exception:
                return None, False, True
            user, sep, password = raw.partition(":")
            if not sep or not user:
                return None, False, True
            return user, ts.check_password(user, password), True

        def do_GET(self):
            url = urllib.parse.urlsplit(self.path)
            if url.path != "/token":
                self.send_json(404, {"errors": [{"code": "NOT_FOUND", "message": url.path}]})
                return
            q = urllib.parse.parse_qs(url.query, keep_blank_values=True)
            service = (q.get("service") or [""])[0]
            scopes = []
            for s in q.get("scope", []):
                scopes.extend(x for x in s.split(" ") if x)
            user, ok, present = self.basic_user()
            what = f"GET service={service} account={(q.get('account') or ['-'])[0]} user={user or '-'} scopes={' '.join(scopes) or '-'}"
            if present and not ok:
                self.unauthorized(what, "invalid username or password")
                return
            self.issue(what, user, service, scopes, oauth=False)

        def do_POST(self):
            url = urllib.parse.urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode("utf-8", errors="replace")
            if url.path != "/token":
                self.send_json(404, {"errors": [{"code": "NOT_FOUND", "message": url.path}]})
                return
            form = urllib.parse.parse_qs(body, keep_blank_values=True)
            get = lambda k: (form.get(k) or [""])[0]
            service = get("service")
            scopes = [x for x in get("scope").split(" ") if x]
            grant = get("grant_type")
            what = f"POST grant_type={grant} service={service} client_id={get('client_id') or '-'} scopes={' '.join(scopes) or '-'}"
            if grant == "password":
                user = get("username")
                if not ts.check_password(user, get("password")):
                    self.unauthorized(what + f" user={user or '-'}", "invalid username or password")
                    return
            elif grant == "refresh_token":
                user = ts.refresh_tokens.get(get("refresh_token"))
                if not user:
                    self.unauthorized(what, "invalid refresh token")
                    return
            else:
                ts.log(f"{what} -> 400 (unsupported grant_type)")
                self.send_json(400, {"error": "unsupported_grant_type"})
                return
            refresh = None
            if get("access_type") == "offline":
                refresh = secrets.token_hex(24)
                ts.refresh_tokens[refresh] = user
            self.issue(what + f" user={user}", user, service, scopes, oauth=True, refresh=refresh)

        def issue(self, what, user, service, scopes, oauth, refresh=None):
            if service != ts.args.service:
                ts.log(f"{what} -> 400 (unknown service)")
                self.send_json(400, {"errors": [{"code": "DENIED", "message": f"unknown service {service!r}"}]})
                return
            access = ts.grant(user, scopes)
            try:
                token = ts.make_token(user, service, access)
            except Exception as e:  # noqa: BLE001
                ts.log(f"{what} -> 500 ({e})")
                self.send_json(500, {"errors": [{"code": "UNKNOWN", "message": str(e)}]})
                return
            granted = " ".join(f"repository:{a['name']}:{','.join(a['actions'])}" for a in access) or "-"
            ts.log(f"{what} -> 200 granted={granted}")
            resp = {
                "token": token,
                "access_token": token,
                "expires_in": ts.args.expires_in,
                "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            }
            if oauth:
                resp["scope"] = " ".join(scopes)
                if refresh:
                    resp["refresh_token"] = refresh
            self.send_json(200, resp)

    return Handler


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port-file", required=True, help="written with the port once listening")
    ap.add_argument("--tls-cert", required=True)
    ap.add_argument("--tls-key", required=True)
    ap.add_argument("--sign-key", required=True, help="RSA private key (PEM) that signs tokens")
    ap.add_argument("--sign-cert", required=True, help="its certificate (the registry's rootcertbundle)")
    ap.add_argument("--issuer", required=True)
    ap.add_argument("--service", required=True)
    ap.add_argument("--users", required=True, help="JSON: {name: {password, actions}}")
    ap.add_argument("--log", required=True)
    ap.add_argument("--expires-in", type=int, default=60)
    args = ap.parse_args()

    ts = TokenServer(args)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(ts))
    httpd.daemon_threads = True
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.tls_cert, args.tls_key)
    # The handshake happens in the request's thread (first read), so a client
    # that connects and stalls blocks nobody else.
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True, do_handshake_on_connect=False)
    tmp = args.port_file + ".tmp"
    with open(tmp, "w", encoding="ascii") as f:
        f.write(f"{httpd.server_address[1]}\n")
    os.replace(tmp, args.port_file)
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
