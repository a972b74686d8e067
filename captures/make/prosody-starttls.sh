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
trap 'kill $(cat "$work/prosody.pid" 2>/dev/null) 2>/dev/null || true; kill $dumpcap_pid 2>/dev/null || true; rm -rf "$work"' EXIT
port=5222

# A self-signed certificate for the virtual host "localhost".
openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/O=xmppdump test/CN=localhost" \
  -addext "subjectAltName=DNS:localhost" -keyout "$work/localhost.key" -out "$work/localhost.crt" 2>/dev/null

mkdir -p "$work/data"
cat > "$work/prosody.cfg.lua" <<CFG
pidfile = "$work/prosody.pid"
data_path = "$work/data"
run_as_root = true
interfaces = { "127.0.0.1" }
c2s_ports = { $port }
s2s_ports = { }
http_ports = { }
https_ports = { }
c2s_require_encryption = true
authentication = "internal_hashed"
modules_enabled = { "roster", "saslauth", "tls", "disco", "ping", "posix" }
log = { info = "$work/prosody.log" }
ssl = { key = "$work/localhost.key", certificate = "$work/localhost.crt" }
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
SSLKEYLOGFILE="$work/keylog" python3 "$here/tests/tools/live_client.py" "$port" "$work/localhost.crt"
sleep 1
kill -INT $dumpcap_pid
wait $dumpcap_pid || true

cp "$work/capture.pcap" "$out/$name.pcap"
cp "$work/keylog" "$out/$name.keylog"
echo "wrote $out/$name.pcap ($(stat -c %s "$out/$name.pcap") bytes) and $out/$name.keylog"
