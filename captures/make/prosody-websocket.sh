#!/usr/bin/env bash
# Regenerates captures/prosody_websocket.pcap: XMPP over WebSocket (RFC 7395) between
# a real server (prosody 0.12 from Debian's packages, mod_websocket on its HTTP port
# 5280) and a real client library (xmpp.js, @xmpp/client from npm, on Node.js), on
# loopback, in the clear, captured by dumpcap. The client upgrades the connection,
# logs in (SCRAM-SHA-1), restarts the stream, binds, sends presence, a chat message
# and a ping, and closes. (Stream management is left off: xmpp.js 0.14 acks twice
# and prosody 0.12 then ends the stream in about half the runs, "Client acknowledged
# less stanzas than already acknowledged".)
#
# Needs: prosody, dumpcap, node with `npm ci` done in tests/tools/xmppjs; root.
# Usage: [PORT=5280] bash captures/make/prosody-websocket.sh [OUTDIR]
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$here/captures}
work=$(mktemp -d)
trap 'kill $(cat "$work/prosody.pid" 2>/dev/null) 2>/dev/null || true; kill $dumpcap_pid 2>/dev/null || true; rm -rf "$work"' EXIT
port=${PORT:-5280}

mkdir -p "$work/data"
cat > "$work/prosody.cfg.lua" <<CFG
pidfile = "$work/prosody.pid"
data_path = "$work/data"
run_as_root = true
interfaces = { "127.0.0.1" }
http_interfaces = { "127.0.0.1" }
c2s_ports = { }
s2s_ports = { }
http_ports = { $port }
https_ports = { }
c2s_require_encryption = false
consider_websocket_secure = true
authentication = "internal_hashed"
modules_enabled = { "roster", "saslauth", "disco", "ping", "posix", "websocket" }
log = { debug = "$work/prosody.log" }
VirtualHost "localhost"
CFG
for user in juliet romeo; do
  prosodyctl --config "$work/prosody.cfg.lua" register "$user" localhost secret >/dev/null
done
prosody --config "$work/prosody.cfg.lua" -F >/dev/null 2>&1 &
for _ in $(seq 100); do
  (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break
  sleep 0.1
done

dumpcap -q -i lo -f "tcp port $port" -P -w "$work/capture.pcap" 2>/dev/null &
dumpcap_pid=$!
sleep 1.5
node "$here/tests/tools/websocket_client.mjs" "$port" || { tail -30 "$work/prosody.log"; exit 1; }
sleep 1
kill -INT $dumpcap_pid
wait $dumpcap_pid || true

cp "$work/capture.pcap" "$out/prosody_websocket.pcap"
echo "wrote $out/prosody_websocket.pcap ($(stat -c %s "$out/prosody_websocket.pcap") bytes)"
