#!/usr/bin/env bash
# The XEP-0138 captures of issue #24 (docs/compression.md): stream compression (zlib)
# between our test client (zlib/client.py, Python's zlib over a real socket) and a real
# ejabberd (Debian's package) whose c2s listeners enable `zlib: true`.
#
# Two captures: OUT_clear on port 5222 (no TLS: the compressed bytes lie in the TCP
# stream) and OUT_tls on port 5232 (STARTTLS first, then compression inside TLS, with
# the client's TLS key log). In both the client asks for an unknown method first (the
# server's <failure/>), then for zlib, restarts the stream and exchanges stanzas.
#
# Output: OUT_clear.{pcap,truth.json}, OUT_tls.{pcap,keylog,truth.json}; the truth is
# what the client sent and received after compression, in order.
# Needs: root, ejabberd, openssl, dumpcap, python3.
# Usage: [KEEP=1] bash captures/make/zlib.sh [OUT]   (default captures/ejabberd_zlib)
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$here/captures/ejabberd_zlib}
work=$(mktemp -d)
chmod 755 "$work"
node=zlib$$@localhost

ctl() {
  ejabberdctl --config-dir "$work/etc" --spool "$work/spool" --logs "$work/logs" \
    --node "$node" "$@"
}

cleanup() {
  ctl stop >/dev/null 2>&1 || true
  kill "${dumpcap_pid:-}" 2>/dev/null || true
  sleep 1
  if [ -n "${KEEP:-}" ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap "exit 1" INT TERM

mkdir -p "$work/etc" "$work/spool" "$work/logs"
chown ejabberd: "$work/spool" "$work/logs"
echo 'ERL_OPTIONS="-env ERL_CRASH_DUMP_BYTES 0"' > "$work/etc/ejabberdctl.cfg"
cp /etc/ejabberd/inetrc "$work/etc/inetrc"
openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=localhost \
  -addext subjectAltName=DNS:localhost -keyout "$work/etc/key.pem" \
  -out "$work/etc/cert.pem" 2>/dev/null
cat "$work/etc/cert.pem" "$work/etc/key.pem" > "$work/etc/server.pem"
cat > "$work/etc/ejabberd.yml" <<CFG
loglevel: info
hosts:
  - localhost
certfiles:
  - "$work/etc/server.pem"
listen:
  -
    port: 5222
    ip: "127.0.0.1"
    module: ejabberd_c2s
    zlib: true
  -
    port: 5232
    ip: "127.0.0.1"
    module: ejabberd_c2s
    starttls_required: true
    zlib: true
auth_password_format: scram
acl:
  local:
    user_regexp: ""
access_rules:
  local:
    allow: local
  c2s:
    allow: all
modules:
  mod_disco: {}
  mod_ping: {}
  mod_roster: {}
CFG
chown -R ejabberd: "$work/etc"
ctl start
ctl started || { tail -n 5 "$work/logs/error.log"; exit 1; }
ctl register zlib localhost secret >/dev/null

run() { # PORT NAME [--tls KEYLOG]
  local port=$1 name=$2
  shift 2
  dumpcap -q -i lo -f "tcp port $port" -P -w "$work/$name.pcap" 2>/dev/null &
  dumpcap_pid=$!
  sleep 1.5
  python3 "$here/captures/make/zlib/client.py" "$port" zlib secret "$work/$name.truth.json" "$@"
  sleep 1
  kill -INT "$dumpcap_pid"
  wait "$dumpcap_pid" || true
  cp "$work/$name.pcap" "${out}_$name.pcap"
  cp "$work/$name.truth.json" "${out}_$name.truth.json"
  echo "wrote ${out}_$name.pcap ($(stat -c %s "${out}_$name.pcap") bytes)"
}
run 5222 clear
run 5232 tls --tls "$work/tls.keylog"
cp "$work/tls.keylog" "${out}_tls.keylog"
