#!/usr/bin/env bash
# The permessage-deflate captures of issue #24 (RFC 7692 over RFC 7395): a real XMPP
# client library (xmpp.js on Node's `ws`, which offers permessage-deflate) logs in
# through a WebSocket server that accepts the extension (Node's `ws`,
# tests/tools/deflate_relay.mjs) and relays each message to a real prosody 0.12
# (Debian's package, mod_websocket, which has no compression of its own). Both ends
# compress every message. dumpcap captures the compressed leg only, on loopback.
#
# Output: OUT.pcap and OUT.truth.json (the relay's log of each message, inflated:
# direction, element name and id, length). With `nctx` neither side keeps context
# between messages (server_no_context_takeover, client_no_context_takeover).
# Needs: root, prosody, dumpcap, node with `npm ci` done in tests/tools/xmppjs.
# Usage: [PORT=5290] [UPSTREAM=5280] bash captures/make/ws-deflate.sh [OUT [nctx]]
#   OUT is a path without extension (default captures/ws_deflate), or a directory to
#   write ws_deflate or ws_deflate_nctx in; the repository's two captures are
#   captures/ws_deflate and captures/ws_deflate_nctx. PORT is the relay's (the
#   captured port), UPSTREAM prosody's HTTP port.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$here/captures/ws_deflate}
mode=${2:-}
if [ -d "$out" ]; then out=$out/ws_deflate${mode:+_$mode}; fi
work=$(mktemp -d)
. "$here/captures/make/prosody-common.sh"
relay_pid=
trap 'kill $relay_pid 2>/dev/null || true; stop_all' EXIT

upstream=${UPSTREAM:-5280}
port=${PORT:-5290}
start_prosody "$upstream" '"roster", "saslauth", "disco", "ping", "posix", "websocket"' "
c2s_ports = { }
http_ports = { $upstream }
c2s_require_encryption = false
consider_websocket_secure = true"
node "$here/tests/tools/deflate_relay.mjs" "$port" "$upstream" "$work/truth.json" $mode > "$work/relay.log" 2>&1 &
relay_pid=$!
for _ in $(seq 100); do
  (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break
  sleep 0.1
done
start_capture "$port"
WS_DEFLATE=1 node "$here/tests/tools/websocket_client.mjs" "$port" 2>/dev/null ||
  { cat "$work/relay.log"; tail -30 "$work/prosody.log"; exit 1; }
stop_capture
for _ in $(seq 50); do
  [ -s "$work/truth.json" ] && break
  sleep 0.1
done

cp "$work/capture.pcap" "$out.pcap"
cp "$work/truth.json" "$out.truth.json"
echo "wrote $out.pcap ($(stat -c %s "$out.pcap") bytes) and $out.truth.json"
