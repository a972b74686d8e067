#!/usr/bin/env bash
# Regenerates captures/prosody_directtls.pcap and .keylog: XMPP over direct TLS
# (XEP-0368) on port 443, as deployments that share 443 with HTTPS do, between a real
# server (prosody 0.12, Debian package, c2s_direct_tls_ports) and a real client
# (slixmpp, PyPI) that offers the ALPN protocol `xmpp-client`; on loopback, captured by
# dumpcap while Python's ssl module writes the TLS secrets to SSLKEYLOGFILE. The client
# logs in (SCRAM-SHA-1 inside TLS), binds, sends presence, fetches the roster, sends
# three chat messages to romeo, and closes the stream. 443 is not an XMPP port to
# xmppdump: the ALPN protocol is what makes the flow XMPP.
#
# Needs: prosody, dumpcap, openssl, python3 with slixmpp; root (loopback capture, 443).
# Usage: [PORT=443] bash captures/make/prosody-directtls.sh [OUTDIR]
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$here/captures}
work=$(mktemp -d)
. "$here/captures/make/prosody-common.sh"
trap stop_all EXIT
port=${PORT:-443}
name=prosody_directtls

make_certificate

start_prosody "$port" '"roster", "saslauth", "tls", "disco", "ping", "posix"' "
c2s_ports = { }
c2s_direct_tls_ports = { $port }
http_ports = { }
c2s_require_encryption = true
ssl = { key = \"$work/localhost.key\", certificate = \"$work/localhost.crt\" }"
start_capture "$port"
SSLKEYLOGFILE="$work/keylog" python3 "$here/tests/tools/live_client.py" "$port" "$work/localhost.crt" direct \
  || { tail -30 "$work/prosody.log"; exit 1; }
stop_capture

cp "$work/capture.pcap" "$out/$name.pcap"
cp "$work/keylog" "$out/$name.keylog"
echo "wrote $out/$name.pcap ($(stat -c %s "$out/$name.pcap") bytes) and $out/$name.keylog"
