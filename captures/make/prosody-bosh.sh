#!/usr/bin/env bash
# Regenerates captures/prosody_bosh.pcap: XMPP over BOSH (XEP-0124, XEP-0206) between a
# real server (prosody 0.12 from Debian's packages, mod_bosh on its HTTP port 5280)
# and a scripted client (tests/tools/bosh_client.py, one keep-alive HTTP connection),
# on loopback, in the clear, captured by dumpcap: session creation, SASL PLAIN,
# restart, bind, presence + message + ping in one <body/>, terminate.
#
# Needs: prosody, dumpcap, python3; root (loopback capture).
# With `https` the same over TLS on prosody's HTTPS port 5281, with a throwaway
# certificate and the key log Python's ssl module writes: captures/prosody_bosh_https.pcap
# and .keylog.
# Usage: [PORT=5280] bash captures/make/prosody-bosh.sh [OUTDIR [https]]
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$here/captures}
tls=${2:-}
work=$(mktemp -d)
. "$here/captures/make/prosody-common.sh"
trap stop_all EXIT

if [ "$tls" = https ]; then
  port=${PORT:-5281}
  name=prosody_bosh_https
  ports=$(https_settings "$port")
else
  port=${PORT:-5280}
  name=prosody_bosh
  ports="http_ports = { $port }"
fi

start_prosody "$port" '"roster", "saslauth", "disco", "ping", "posix", "bosh"' "
c2s_ports = { }
$ports
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
consider_bosh_secure = true"
start_capture "$port"
SSLKEYLOGFILE="$work/keylog" python3 "$here/tests/tools/bosh_client.py" "$port" $tls \
  || { tail -30 "$work/prosody.log"; exit 1; }
stop_capture

cp "$work/capture.pcap" "$out/$name.pcap"
if [ "$tls" = https ]; then cp "$work/keylog" "$out/$name.keylog"; fi
echo "wrote $out/$name.pcap ($(stat -c %s "$out/$name.pcap") bytes)"
