#!/usr/bin/env bash
# Regenerates captures/prosody_starttls.pcap and captures/prosody_starttls.keylog:
# a real XMPP server (prosody, Debian package) and a real client (slixmpp, PyPI) on
# loopback, STARTTLS on port 5222, captured by dumpcap (Debian package tshark's
# wireshark-common) while Python's ssl module writes the TLS secrets to SSLKEYLOGFILE.
# The client logs in (SCRAM-SHA-1 inside TLS), binds, sends presence, fetches the
# roster, sends three chat messages to romeo, and closes the stream.
#
# Needs: prosody, dumpcap, openssl, python3 with slixmpp; root (loopback capture).
# Usage: bash captures/make/prosody-starttls.sh [OUTDIR [NAME [TLS_MAX_VERSION]]]
#   default: captures/ prosody_starttls (TLS 1.3); with TLS_MAX_VERSION=1.2 the client
#   offers at most TLS 1.2 and the key log holds a CLIENT_RANDOM master secret.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$here/captures}
name=${2:-prosody_starttls}
export TLS_MAX_VERSION=${3:-}
work=$(mktemp -d)
. "$here/captures/make/prosody-common.sh"
trap stop_all EXIT
port=5222

make_certificate

start_prosody "$port" '"roster", "saslauth", "tls", "disco", "ping", "posix"' "
c2s_ports = { $port }
http_ports = { }
c2s_require_encryption = true
ssl = { key = \"$work/localhost.key\", certificate = \"$work/localhost.crt\" }"
start_capture "$port"
SSLKEYLOGFILE="$work/keylog" python3 "$here/tests/tools/live_client.py" "$port" "$work/localhost.crt"
stop_capture

cp "$work/capture.pcap" "$out/$name.pcap"
cp "$work/keylog" "$out/$name.keylog"
echo "wrote $out/$name.pcap ($(stat -c %s "$out/$name.pcap") bytes) and $out/$name.keylog"
