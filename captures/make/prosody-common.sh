# Shared by the capture scripts of captures/make/ (sourced, not run): a throwaway
# prosody (Debian's package) on loopback with users juliet and romeo (password
# `secret`), and dumpcap capturing one TCP port. The caller sets `work` (a temporary
# directory), and calls stop_all from its EXIT trap.

# start_prosody PORT MODULES SETTINGS: writes the configuration (SETTINGS are more
# Lua lines: the ports to serve, authentication, TLS), adds the users, starts prosody
# and waits until PORT listens.
start_prosody() {
  local port=$1 modules=$2 settings=$3
  mkdir -p "$work/data"
  cat > "$work/prosody.cfg.lua" <<CFG
pidfile = "$work/prosody.pid"
data_path = "$work/data"
run_as_root = true
interfaces = { "127.0.0.1" }
http_interfaces = { "127.0.0.1" }
s2s_ports = { }
https_ports = { }
authentication = "internal_hashed"
$settings
modules_enabled = { $modules }
log = { debug = "$work/prosody.log" }
VirtualHost "localhost"
CFG
  for user in juliet romeo; do
    prosodyctl --config "$work/prosody.cfg.lua" register "$user" localhost secret >/dev/null
  done
  prosody --config "$work/prosody.cfg.lua" -F >/dev/null 2>&1 &
  for _ in $(seq 100); do
    (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break
    sleep 0.1
  done
}

# make_certificate: a self-signed certificate for the virtual host "localhost",
# $work/localhost.crt and its key $work/localhost.key.
make_certificate() {
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/O=xmppdump test/CN=localhost" \
    -addext "subjectAltName=DNS:localhost" -keyout "$work/localhost.key" -out "$work/localhost.crt" 2>/dev/null
}

# https_settings PORT: prosody's settings for serving HTTP on the HTTPS port PORT only
# (wss://, https://), with a certificate from make_certificate; printed, for
# start_prosody's SETTINGS.
https_settings() {
  make_certificate
  printf 'http_ports = { }\nhttps_ports = { %s }\nhttps_ssl = { key = "%s", certificate = "%s" }\n' \
    "$1" "$work/localhost.key" "$work/localhost.crt"
}

# start_capture PORT: dumpcap on loopback, TCP port PORT, into $work/capture.pcap.
start_capture() {
  dumpcap -q -i lo -f "tcp port $1" -P -w "$work/capture.pcap" 2>/dev/null &
  dumpcap_pid=$!
  sleep 1.5
}

# stop_capture: lets the last packets arrive, then ends dumpcap cleanly.
stop_capture() {
  sleep 1
  kill -INT "$dumpcap_pid"
  wait "$dumpcap_pid" || true
}

# stop_all: for the EXIT trap.
stop_all() {
  kill "$(cat "$work/prosody.pid" 2>/dev/null)" 2>/dev/null || true
  kill "${dumpcap_pid:-}" 2>/dev/null || true
  rm -rf "$work"
}
