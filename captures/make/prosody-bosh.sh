#!/usr/bin/env bash
# Regenerates captures/prosody_bosh.pcap: XMPP over BOSH (XEP-0124, XEP-0206) between a
# real server (prosody 0.12 from Debian's packages, mod_bosh on its HTTP port 5280)
# and a scripted client (tests/tools/bosh_client.py, one keep-alive HTTP connection),
# on loopback, in the clear, captured by dumpcap: session creation, SASL PLAIN,
# restart, bind, presence + message + ping in one <body/>, terminate.
#
# Needs: prosody, dumpcap, python3; root (loopback capture).
# Usage: [PORT=5280] bash captures/make/prosody-bosh.sh [OUTDIR]
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$here/captures}
work=$(mktemp -d)
. "$here/captures/make/prosody-common.sh"
trap stop_all EXIT
port=${PORT:-5280}

start_prosody "$port" '"roster", "saslauth", "disco", "ping", "posix", "bosh"' "
c2s_ports = { }
http_ports = { $port }
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
consider_bosh_secure = true"
start_capture "$port"
python3 "$here/tests/tools/bosh_client.py" "$port" || { tail -30 "$work/prosody.log"; exit 1; }
stop_capture

cp "$work/capture.pcap" "$out/prosody_bosh.pcap"
echo "wrote $out/prosody_bosh.pcap ($(stat -c %s "$out/prosody_bosh.pcap") bytes)"
