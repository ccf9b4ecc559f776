#!/usr/bin/env bash
# Stops the server started by serve.sh for PORTFILE (its PID is in
# PORTFILE.pid) and removes PORTFILE and PORTFILE.pid (the .log is kept).
# Succeeds if no such server is running.
#
# Usage: stop.sh PORTFILE
set -euo pipefail
# shellcheck source=lib.sh disable=SC1091
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"

[ $# -eq 1 ] || { echo "usage: $(dm_prog) PORTFILE" >&2; exit 2; }
portfile=$1
pidfile="$portfile.pid"
if [ ! -f "$pidfile" ]; then
    dm_log "no $pidfile: nothing to stop"
    rm -f "$portfile"
    exit 0
fi
pid=$(cat "$pidfile")
case $pid in ''|*[!0-9]*) dm_die "bad PID in $pidfile: '$pid'" ;; esac
if kill -0 "$pid" 2>/dev/null; then
    # Only ever signal our own server: check its command line first.
    if ! tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q 'http_server\.py'; then
        dm_die "PID $pid from $pidfile is not http_server.py; not killing it"
    fi
    kill -TERM "$pid"
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
    dm_log "stopped server PID $pid"
else
    dm_log "server PID $pid was not running"
fi
rm -f "$portfile" "$pidfile"
