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
# With `wss` the same over TLS (wss:// on prosody's HTTPS port 5281) and the key log
# Node.js writes: captures/prosody_wss.pcap and .keylog.
# Usage: [PORT=5280] bash captures/make/prosody-websocket.sh [OUTDIR [wss]]
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$here/captures}
tls=${2:-}
work=$(mktemp -d)
. "$here/captures/make/prosody-common.sh"
trap stop_all EXIT

if [ "$tls" = wss ]; then
  # wss:// on prosody's HTTPS port, with a throwaway certificate; Node.js writes the
  # TLS secrets (--tls-keylog) for `xmppdump --keylog`.
  port=${PORT:-5281}
  name=prosody_wss
  ports=$(https_settings "$port")
  client=(env NODE_TLS_REJECT_UNAUTHORIZED=0 node --tls-keylog="$work/keylog" "$here/tests/tools/websocket_client.mjs" "$port" wss)
else
  port=${PORT:-5280}
  name=prosody_websocket
  ports="http_ports = { $port }"
  client=(node "$here/tests/tools/websocket_client.mjs" "$port")
fi

start_prosody "$port" '"roster", "saslauth", "disco", "ping", "posix", "websocket"' "
c2s_ports = { }
$ports
c2s_require_encryption = false
consider_websocket_secure = true"
start_capture "$port"
"${client[@]}" 2>/dev/null || { tail -30 "$work/prosody.log"; exit 1; }
stop_capture

cp "$work/capture.pcap" "$out/$name.pcap"
if [ "$tls" = wss ]; then cp "$work/keylog" "$out/$name.keylog"; fi
echo "wrote $out/$name.pcap ($(stat -c %s "$out/$name.pcap") bytes)"
