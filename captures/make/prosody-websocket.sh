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
. "$here/captures/make/prosody-common.sh"
trap stop_all EXIT
port=${PORT:-5280}

start_prosody "$port" '"roster", "saslauth", "disco", "ping", "posix", "websocket"' "
c2s_ports = { }
http_ports = { $port }
c2s_require_encryption = false
consider_websocket_secure = true"
start_capture "$port"
node "$here/tests/tools/websocket_client.mjs" "$port" || { tail -30 "$work/prosody.log"; exit 1; }
stop_capture

cp "$work/capture.pcap" "$out/prosody_websocket.pcap"
echo "wrote $out/prosody_websocket.pcap ($(stat -c %s "$out/prosody_websocket.pcap") bytes)"
