#!/usr/bin/env bash
# The census capture of issue #23 (docs/census.md): real clients from Debian's packages on
# a real ejabberd (Debian's package), identified by what they say on the wire.
#
# ejabberd serves c2s on 127.0.0.1:5222 without STARTTLS (every stanza readable), with its
# usual modules (roster, disco, entity capabilities, version, ping, stream management,
# carbons, vCard, PEP). Three accounts share mutual subscriptions: alice runs Profanity,
# bob runs mcabber (both terminal clients, driven through tmux: Profanity by its /connect
# command, mcabber by its configuration file), and observer runs
# census/observer.py (slixmpp), which checks every entity's capabilities (XEP-0115),
# asks the server and both clients for their versions (XEP-0092), writes to each client,
# and sends a file of known size to a second resource of its own over an in-band
# bytestream (XEP-0047). dumpcap captures port 5222 on loopback.
#
# Output: OUT.pcap (the capture) and OUT.truth.json (what the peers answered, as the
# observer logged it: the ground truth of tests/census.rs).
# Needs: root, ejabberd, profanity, mcabber, tmux, dumpcap, python3 with slixmpp.
# Usage: [KEEP=1] bash captures/make/census.sh [OUT]   (default captures/census_ejabberd;
#   KEEP=1 keeps the work directory with the server's and clients' logs)
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$here/captures/census_ejabberd}
work=$(mktemp -d)
chmod 755 "$work"
node=census$$@localhost
tmux_socket=census$$

ctl() {
  ejabberdctl --config-dir "$work/etc" --spool "$work/spool" --logs "$work/logs" \
    --node "$node" "$@"
}

cleanup() {
  tmux -L "$tmux_socket" kill-server 2>/dev/null || true
  ctl stop >/dev/null 2>&1 || true
  kill "${dumpcap_pid:-}" 2>/dev/null || true
  sleep 1
  if [ -n "${KEEP:-}" ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap "exit 1" INT TERM

mkdir -p "$work/etc" "$work/spool" "$work/logs" "$work/home"
chown ejabberd: "$work/spool" "$work/logs"
# Our own ejabberdctl.cfg: Debian's would point back to /etc/ejabberd/ejabberd.yml.
echo 'ERL_OPTIONS="-env ERL_CRASH_DUMP_BYTES 0"' > "$work/etc/ejabberdctl.cfg"
cp /etc/ejabberd/inetrc "$work/etc/inetrc"
cat > "$work/etc/ejabberd.yml" <<CFG
loglevel: info
hosts:
  - localhost
listen:
  -
    port: 5222
    ip: "127.0.0.1"
    module: ejabberd_c2s
    max_stanza_size: 262144
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
  mod_admin_extra: {}
  mod_caps: {}
  mod_carboncopy: {}
  mod_disco: {}
  mod_ping: {}
  mod_pubsub:
    plugins:
      - flat
      - pep
  mod_roster: {}
  mod_stream_mgmt: {}
  mod_vcard: {}
  mod_version:
    show_os: true
CFG
chown -R ejabberd: "$work/etc"
ctl start
ctl started || { tail -n 5 "$work/logs/error.log"; exit 1; }
for user in alice bob observer; do
  ctl register "$user" localhost secret >/dev/null
done
for pair in "alice bob" "alice observer" "bob observer"; do
  set -- $pair
  ctl add_rosteritem "$1" localhost "$2" localhost "$2" census both >/dev/null
  ctl add_rosteritem "$2" localhost "$1" localhost "$1" census both >/dev/null
done

dumpcap -q -i lo -f "tcp port 5222" -P -w "$work/capture.pcap" 2>/dev/null &
dumpcap_pid=$!
sleep 1.5

# The observer starts first and waits for both clients' presence.
python3 "$here/captures/make/census/observer.py" 5222 "$work/truth.json" \
  alice@localhost bob@localhost &
observer_pid=$!
sleep 3

export HOME="$work/home" TERM=xterm-256color XDG_CONFIG_HOME="$work/home/.config" \
  XDG_DATA_HOME="$work/home/.local/share"
tmux -L "$tmux_socket" new-session -d -s clients -x 160 -y 48 "profanity"
sleep 2
tmux -L "$tmux_socket" send-keys -t clients \
  "/connect alice@localhost server 127.0.0.1 port 5222 tls disable" Enter
sleep 1
tmux -L "$tmux_socket" send-keys -t clients "secret" Enter

mkdir -p "$HOME/.mcabber"
cat > "$HOME/.mcabber/mcabberrc" <<RC
set jid = bob@localhost
set password = secret
set server = 127.0.0.1
set port = 5222
set resource = mcabber
set tls = 0
set ssl = 0
set logging = 0
RC
chmod 600 "$HOME/.mcabber/mcabberrc"
tmux -L "$tmux_socket" new-window -t clients "mcabber"

if ! wait "$observer_pid"; then
  for window in 0 1; do tmux -L "$tmux_socket" capture-pane -p -t "clients:$window" | grep -v '^$' | tail -15; done
  tail -5 "$work/logs/ejabberd.log"
  exit 1
fi
# The clients answer, then leave the way their users would.
tmux -L "$tmux_socket" send-keys -t clients:0 "/quit" Enter
tmux -L "$tmux_socket" send-keys -t clients:1 "/quit" Enter
sleep 2
kill -INT "$dumpcap_pid"
wait "$dumpcap_pid" || true

cp "$work/capture.pcap" "$out.pcap"
cp "$work/truth.json" "$out.truth.json"
echo "wrote $out.pcap ($(stat -c %s "$out.pcap") bytes) and $out.truth.json"
