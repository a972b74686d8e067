#!/usr/bin/env bash
# Regenerates captures/prosody_sasl2.pcap: a real XMPP server (prosody 0.12, Debian
# package, with the SASL2 modules of Debian's prosody-modules: mod_sasl2,
# mod_sasl2_bind2) and a scripted client (tests/tools/sasl2_client.py)
# on loopback, in the clear on port 5222, captured by dumpcap. Three connections: SASL2
# SCRAM-SHA-1 (XEP-0388) with Bind2 (XEP-0386) and a clean close; SASL2 PLAIN, then
# stream management (XEP-0198) enabled, dropped without a close; SASL2 PLAIN, then
# resuming that session. (mod_sasl2_sm and mod_sasl2_fast of that package need prosody 0.13.)
#
# Needs: prosody, prosody-modules, dumpcap, python3; root (loopback capture).
# Usage: bash captures/make/prosody-sasl2.sh [OUTDIR]
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$here/captures}
work=$(mktemp -d)
trap 'kill $(cat "$work/prosody.pid" 2>/dev/null) 2>/dev/null || true; kill $dumpcap_pid 2>/dev/null || true; rm -rf "$work"' EXIT
port=5222

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
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
authentication = "internal_hashed"
modules_enabled = { "roster", "saslauth", "disco", "ping", "posix", "smacks",
  "sasl2", "sasl2_bind2" }
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
python3 "$here/tests/tools/sasl2_client.py" "$port" || { tail -30 "$work/prosody.log"; exit 1; }
sleep 1
kill -INT $dumpcap_pid
wait $dumpcap_pid || true

cp "$work/capture.pcap" "$out/prosody_sasl2.pcap"
echo "wrote $out/prosody_sasl2.pcap ($(stat -c %s "$out/prosody_sasl2.pcap") bytes)"
