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
. "$here/captures/make/prosody-common.sh"
trap stop_all EXIT
port=5222

start_prosody "$port" '"roster", "saslauth", "disco", "ping", "posix", "smacks", "sasl2", "sasl2_bind2"' "
c2s_ports = { $port }
http_ports = { }
c2s_require_encryption = false
allow_unencrypted_plain_auth = true"
start_capture "$port"
python3 "$here/tests/tools/sasl2_client.py" "$port" || { tail -30 "$work/prosody.log"; exit 1; }
stop_capture

cp "$work/capture.pcap" "$out/prosody_sasl2.pcap"
echo "wrote $out/prosody_sasl2.pcap ($(stat -c %s "$out/prosody_sasl2.pcap") bytes)"
