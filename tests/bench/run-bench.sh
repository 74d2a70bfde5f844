#!/usr/bin/env bash
# run-bench.sh - `make bench`: the SPEC §8 figures. Builds the C helpers of
# tests/bench against build/libfiregw.a, then runs tests/bench/bench.py,
# which starts its own mosquitto, simulator and gateways on 127.0.0.1,
# prints one table (each figure beside its target, met / not met) and
# writes the same figures to build/bench.json. About 22 minutes on 2 cores
# (fanin: 1 000 premises over TLS and a broker restart, about 75 s; the
# flash part about 8).
# BENCH_QUICK=1: a short run to check the harness; BENCH_ONLY=tcp,rtu,...
# selects scenarios (store tcp rtu throughput backlog fanin fanin-real inspect flash).
set -eu
cd "$(dirname "$0")/../.."
build=${FIREGW_BUILD:-build}
for b in "$build/firegw" "$build/firegw-sim" "$build/libfiregw.a"; do
	[ -e "$b" ] || { echo "run-bench: $b missing; run 'make all' first" >&2; exit 2; }
done
mkdir -p "$build/bench"
libs="$build/libfiregw.a $(pkg-config --libs libmodbus jansson yaml-0.1 sqlite3 libsystemd libcrypto) -lpaho-mqtt3as -lpthread -lm"
for h in bench_store bench_backlog; do
	# shellcheck disable=SC2086
	${CC:-cc} -D_GNU_SOURCE -Igateway -std=c11 -O2 -g -Wall -Wextra -Wshadow -Wconversion \
		"tests/bench/$h.c" $libs -o "$build/bench/$h"
done
# mkbacklog of the fault tests, when its source is there and not yet built
if [ ! -x "$build/mkbacklog" ] && [ -f tests/fault/mkbacklog.c ]; then
	# shellcheck disable=SC2086
	${CC:-cc} -D_GNU_SOURCE -Igateway -std=c11 -O2 tests/fault/mkbacklog.c $libs \
		-o "$build/mkbacklog" || echo "run-bench: tests/fault/mkbacklog.c did not build; using tests/bench/bench_backlog.c" >&2
fi
# the fan-in load generator (make bench builds it with the project's flags)
if [ ! -x "$build/loadgen" ]; then
	# shellcheck disable=SC2086
	${CC:-cc} -D_GNU_SOURCE -Igateway -std=c11 -O2 -g tests/bench/loadgen.c $libs \
		-o "$build/loadgen" || echo "run-bench: tests/bench/loadgen.c did not build; fanin will fail" >&2
fi
exec python3 tests/bench/bench.py
