#!/usr/bin/env bash
# Writes fuzz/seeds/tls/<capture>-<mode> from the TCP segments of the prosody captures
# ([direction][length u16][bytes]… after a key-selection byte, see fuzz_targets/tls.rs)
# and fuzz/seeds/keylog/ from their key logs. Needs tshark.
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p seeds/tls seeds/keylog
for pair in "prosody_starttls 1" "prosody_starttls_tls12 2"; do
  set -- $pair
  tshark -r "../captures/$1.pcap" -Y "tcp.len > 0" -T fields -e tcp.dstport -e tcp.payload \
    | python3 -c '
import sys
out = bytearray([int(sys.argv[1])])
for line in sys.stdin:
    port, payload = line.split()
    data = bytes.fromhex(payload)
    out += bytes([0 if port == "5222" else 1]) + len(data).to_bytes(2, "big") + data
open(sys.argv[2], "wb").write(out)
' "$2" "seeds/tls/$1"
  cp "../captures/$1.keylog" "seeds/keylog/$1.keylog"
done
ls -l seeds/tls seeds/keylog
