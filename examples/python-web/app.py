"""A tiny web app on the standard library: distill app puts it on the
python3 preset. Run with --self-test to serve one request to itself."""
import http.server
import sys
import threading
import urllib.request


class Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"hello from a distroless python image\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def main():
    port = 0 if "--self-test" in sys.argv else 8080
    server = http.server.HTTPServer(("0.0.0.0", port), Hello)
    if port:
        server.serve_forever()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(urllib.request.urlopen("http://127.0.0.1:%d/" % server.server_port).read().decode(), end="")


if __name__ == "__main__":
    main()
