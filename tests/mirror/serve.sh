#!/usr/bin/env bash
# Serves OUTDIR over HTTP on 127.0.0.1 on a free port, in the background.
#   PORTFILE       the port number (written last: its presence means "ready")
#   PORTFILE.pid   the server's PID (stop it with stop.sh PORTFILE)
#   PORTFILE.log   one line per request: METHOD PATH STATUS BYTES RANGE
#   PORTFILE.err   the server's stderr
# The server (http_server.py) supports single-range GET (206/416), If-Range,
# If-Modified-Since/If-None-Match (304), HEAD, keep-alive.
# Prints the base URL (http://127.0.0.1:PORT) on stdout.
#
# Usage: serve.sh OUTDIR PORTFILE
set -euo pipefail
# shellcheck source=lib.sh disable=SC1091
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"

[ $# -eq 2 ] || { echo "usage: $(dm_prog) OUTDIR PORTFILE" >&2; exit 2; }
dir=$1 portfile=$2
[ -d "$dir" ] || dm_die "not a directory: $dir"
dm_need python3 python3
mkdir -p "$(dirname "$portfile")"
portfile="$(cd "$(dirname "$portfile")" && pwd)/$(basename "$portfile")"

if [ -f "$portfile.pid" ] && kill -0 "$(cat "$portfile.pid")" 2>/dev/null; then
    dm_die "a server is already running for $portfile (PID $(cat "$portfile.pid")); run stop.sh $portfile"
fi
rm -f "$portfile" "$portfile.pid" "$portfile.log"

setsid python3 "$DISTILL_MIRROR_DIR/http_server.py" "$dir" "$portfile" \
    </dev/null >/dev/null 2>"$portfile.err" &
launcher=$!

for _ in $(seq 1 100); do
    [ -s "$portfile" ] && break
    if ! kill -0 "$launcher" 2>/dev/null && [ ! -s "$portfile" ]; then
        cat "$portfile.err" >&2 || true
        dm_die "the HTTP server exited before it was ready"
    fi
    sleep 0.1
done
[ -s "$portfile" ] || { kill "$launcher" 2>/dev/null || true; dm_die "the HTTP server did not start within 10 s (see $portfile.err)"; }
port=$(cat "$portfile")
dm_log "serving $dir at http://127.0.0.1:$port (PID $(cat "$portfile.pid"))"
echo "http://127.0.0.1:$port"
