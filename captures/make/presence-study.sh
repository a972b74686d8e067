#!/usr/bin/env bash
# The runs of docs/presence-study.md: the federation experiment (federation.sh) at
# several roster sizes, remote shares, domain counts and chat rates, then one Markdown
# row per run from `xmppdump stats --format json` (s2s presence_ratios), beside the
# prediction of the interdomain presence model (draft-saintandre-xmpp-presence-
# analysis) for the same parameters.
# Usage: bash captures/make/presence-study.sh [DIR]   (runs kept in DIR, default
# /tmp/presence-study; a run whose capture is already there is not made again)
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
dir=${1:-/tmp/presence-study}
mkdir -p "$dir"
xmppdump=$here/target/release/xmppdump
[ -x "$xmppdump" ] || (cd "$here" && cargo build --release -q)
# name: environment of the run (the rest are federation.sh's defaults)
runs=(
  "c10:CONTACTS=10"
  "c20:CONTACTS=20"
  "c40:CONTACTS=40"
  "r09:REMOTE_SHARE=0.9"
  "d3:DOMAINS=3 USERS=150"
  "chatty:CHATS_PER_MIN=6"
)
for run in "${runs[@]}"; do
  name=${run%%:*} vars=${run#*:}
  if [ ! -f "$dir/$name.pcap" ]; then
    env $vars bash "$here/captures/make/federation.sh" "$dir/$name" > "$dir/$name.log" 2>&1
  fi
  "$xmppdump" stats "$dir/$name.pcap" --format json > "$dir/$name.json"
done
python3 - "$dir" "${runs[@]}" <<'PY'
import json, sys
d = sys.argv[1]
print("| run | contacts (remote) | domains | chats/min | s2s presence % of stanza bytes | per_domain % of presences (bytes) | model | probe+answer % | model | resent % | muc % |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for run in sys.argv[2:]:
    name = run.split(":")[0]
    p = dict(line.strip().split("=", 1) for line in open(f"{d}/{name}.parameters") if "=" in line and not line.startswith("#"))
    s = json.load(open(f"{d}/{name}.json"))["presence_ratios"]["s2s"]
    b = s["by_definition"]
    contacts, share, domains = int(p["CONTACTS"]), float(p["REMOTE_SHARE"]), int(p["DOMAINS"])
    remote = round(contacts * share)
    per_other = remote // (domains - 1)
    remote = per_other * (domains - 1)
    # Changes per session: sessions last RUN + LOGIN/2 + LOGOUT/2 seconds on average,
    # a presence change is one of the Poisson events at CHANGES of CHANGES+CHATS.
    minutes = (float(p["RUN_SECS"]) + float(p["LOGIN_SECS"]) / 2 + float(p["LOGOUT_SECS"]) / 2) / 60
    k = float(p["CHANGES_PER_MIN"]) * minutes
    # Per session and remote contact: initial presence, probe, answer, k changes,
    # unavailable; one copy per domain would send the broadcasts once per domain.
    total = remote * (4 + k)
    per_domain = (remote - (domains - 1)) * (2 + k) / total
    probing = 2 * remote / total
    pct = lambda x: f"{100 * x:.1f}"
    print(f"| {name} | {contacts} ({remote}) | {domains} | {p['CHATS_PER_MIN']} | {pct(s['of_stanza_bytes'])} "
          f"| {pct(b['per_domain']['of_presences'])} ({pct(b['per_domain']['of_presence_bytes'])}) | {pct(per_domain)} "
          f"| {pct(b['probe+answer']['of_presences'])} | {pct(probing)} | {pct(b['resent']['of_presences'])} | {pct(b['muc']['of_presences'])} |")
PY
