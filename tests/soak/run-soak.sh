#!/usr/bin/env bash
# run-soak.sh - the 1 h soak of SPEC §8 (not part of `make test`): 250
# simulated devices, the broker stopped and started every 30 s, the
# gateway's resident memory printed every minute and its growth at the end
# (target < 1 MB). SOAK_SECONDS (default 3600), SOAK_FLAP_S (30),
# SOAK_FLAP_DOWN_S (5), SOAK_DEVICES (250). Needs `make all` first.
set -eu
cd "$(dirname "$0")/../.."
build=${FIREGW_BUILD:-build}
for b in "$build/firegw" "$build/firegw-sim"; do
	[ -x "$b" ] || { echo "run-soak: $b missing; run 'make all' first" >&2; exit 2; }
done
exec python3 tests/soak/soak.py
