#!/usr/bin/env bash
# The federation experiment of issue #22 and docs/presence-study.md: real XMPP servers
# federating over s2s, with hundreds of real clients, captured c2s and s2s together.
#
# Inside a network namespace of its own (loopback only), one prosody (Debian's package)
# per domain serves c2s on ADDRESS:5222 and s2s on ADDRESS:5269 (a.example on 127.0.1.1,
# b.example on 127.0.1.2, c.example on 127.0.1.3 ...); a tiny DNS server (federation/dns.py)
# gives each domain its address, so s2s connections are resolved and authenticated with
# server dialback (XEP-0220) the way they are on the Internet, in the clear (no
# certificates: s2s and c2s TLS are off, so every stanza is readable). The first domain also
# hosts the chat room service conference.a.example (XEP-0045). federation/clients.py writes
# the accounts and mutual-subscription rosters, then runs every client (slixmpp): login,
# roster, initial presence, presence changes, chats, one multi-domain room, logout.
# dumpcap captures ports 5222 and 5269 on the namespace's loopback.
#
# Output: OUT.pcap (the capture), OUT.clients.json (every client's own stanza counts per
# connection: the ground truth) and OUT.parameters (the exact parameters).
# Needs: root, iproute2, prosody, dumpcap, python3 with slixmpp.
#
# Usage: [DOMAINS=2] [USERS=200] [CONTACTS=20] [REMOTE_SHARE=0.5] [LOGIN_SECS=20]
#        [RUN_SECS=60] [LOGOUT_SECS=10] [CHANGES_PER_MIN=1] [CHATS_PER_MIN=0.5]
#        [MUC_USERS=20] [SEED=1] bash captures/make/federation.sh [OUT]
# The committed capture captures/federation_prosody.pcap was made with the defaults.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$here/captures/federation_prosody}
DOMAINS=${DOMAINS:-2} USERS=${USERS:-200} CONTACTS=${CONTACTS:-20} REMOTE_SHARE=${REMOTE_SHARE:-0.5}
LOGIN_SECS=${LOGIN_SECS:-20} RUN_SECS=${RUN_SECS:-60} LOGOUT_SECS=${LOGOUT_SECS:-10}
CHANGES_PER_MIN=${CHANGES_PER_MIN:-1} CHATS_PER_MIN=${CHATS_PER_MIN:-0.5} MUC_USERS=${MUC_USERS:-20}
SEED=${SEED:-1}
netns=xfed$$
work=$(mktemp -d)
chmod 755 "$work"

cleanup() {
  for pid in $(for f in "$work"/*/prosody.pid; do cat "$f" 2>/dev/null; echo; done) ${dns_pid:-} ${dumpcap_pid:-}; do
    kill "$pid" 2>/dev/null || true
  done
  sleep 0.5
  ip netns delete "$netns" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap "exit 1" INT TERM

ip netns add "$netns"
inns() { ip netns exec "$netns" "$@"; }
inns ip link set lo up

names=() table=()
for n in $(seq "$DOMAINS"); do
  name="$(printf "\\x$(printf %x $((96 + n)))").example"
  names+=("$name=127.0.1.$n")
  table+=("$name=127.0.1.$n" "conference.$name=127.0.1.$n")
done
ip netns exec "$netns" python3 "$here/captures/make/federation/dns.py" 127.0.0.53 "${table[@]}" &
dns_pid=$!
echo "nameserver 127.0.0.53" > "$work/resolv.conf"

data_dirs=()
for entry in "${names[@]}"; do
  name=${entry%%=*} address=${entry#*=}
  dir="$work/$name"
  mkdir -p "$dir/data"
  data_dirs+=("$dir/data")
  component=""
  if [ "$entry" = "${names[0]}" ]; then
    component="Component \"conference.$name\" \"muc\"
  restrict_room_creation = false
  muc_room_locking = false"
  fi
  cat > "$dir/prosody.cfg.lua" <<CFG
pidfile = "$dir/prosody.pid"
data_path = "$dir/data"
run_as_root = true
interfaces = { "$address" }
c2s_ports = { 5222 }
s2s_ports = { 5269 }
http_ports = { }
https_ports = { }
c2s_require_encryption = false
s2s_require_encryption = false
s2s_secure_auth = false
allow_unencrypted_plain_auth = true
authentication = "internal_plain"
unbound = { resolvconf = "$work/resolv.conf" }
modules_enabled = { "roster", "saslauth", "disco", "posix", "dialback", "ping" }
log = { info = "$dir/prosody.log" }
VirtualHost "$name"
$component
CFG
done

python3 "$here/captures/make/federation/clients.py" provision --domains "${names[@]}" \
  --users "$USERS" --contacts "$CONTACTS" --remote-share "$REMOTE_SHARE" --data "${data_dirs[@]}"

for entry in "${names[@]}"; do
  name=${entry%%=*} address=${entry#*=}
  ip netns exec "$netns" prosody --config "$work/$name/prosody.cfg.lua" -F >/dev/null 2>&1 &
  for _ in $(seq 100); do
    inns bash -c "exec 3<>/dev/tcp/$address/5269" 2>/dev/null && break
    sleep 0.1
  done
done

ip netns exec "$netns" dumpcap -q -i lo -f "tcp port 5222 or tcp port 5269" -P -w "$work/capture.pcap" &
dumpcap_pid=$!
sleep 1

inns python3 "$here/captures/make/federation/clients.py" run --domains "${names[@]}" \
  --users "$USERS" --contacts "$CONTACTS" --remote-share "$REMOTE_SHARE" --seed "$SEED" \
  --login-secs "$LOGIN_SECS" --run-secs "$RUN_SECS" --logout-secs "$LOGOUT_SECS" \
  --changes-per-min "$CHANGES_PER_MIN" --chats-per-min "$CHATS_PER_MIN" \
  --muc-users "$MUC_USERS" --log "$work/clients.json" \
  || { tail -20 "$work"/*/prosody.log; exit 1; }
sleep 2
kill -INT "$dumpcap_pid"
wait "$dumpcap_pid" || true

cp "$work/capture.pcap" "$out.pcap"
cp "$work/clients.json" "$out.clients.json"
{
  echo "# captures/make/federation.sh parameters, prosody $(dpkg-query -W -f '${Version}' prosody), slixmpp $(python3 -c 'import slixmpp; print(slixmpp.__version__)')"
  for v in DOMAINS USERS CONTACTS REMOTE_SHARE LOGIN_SECS RUN_SECS LOGOUT_SECS CHANGES_PER_MIN \
    CHATS_PER_MIN MUC_USERS SEED; do echo "$v=${!v}"; done
} > "$out.parameters"
grep -h -i -E "error|s2s.*(fail|closed)" "$work"/*/prosody.log | grep -v certmanager | head -5 || true
echo "wrote $out.pcap ($(stat -c %s "$out.pcap") bytes)"
