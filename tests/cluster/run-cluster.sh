#!/usr/bin/env bash
# Runs each scenario of tests/cluster/test_cluster.py in a process of its
# own (a fresh harness per cluster), each bounded by `timeout` (165 s, the
# partition 240 s: 15 minutes in all; on SIGTERM the harness removes its
# processes and namespaces), and prints
# the closing line "N passed, N failed". FIREGW_BUILD selects the build.
# Used by `make cluster-test`; needs root and `ip netns`.
set -u
cd "$(dirname "$0")"
pass=0
fail=0
skip=0
for t in $(sed -n 's/^    def \(test_[a-z0-9_]*\)(self.*/\1/p' test_cluster.py); do
	echo "== $t"
	limit=165
	[ "$t" = test_2_node_partitioned_then_healed ] && limit=240
	out=$(timeout -s TERM -k 30 "$limit" python3 -m unittest -v "test_cluster.TestCluster.$t" 2>&1)
	rc=$?
	echo "$out" | grep -E '^FIGURES|^limit:| \.\.\. |^(OK|FAILED)' | cut -c1-400
	if echo "$out" | grep -q "skipped"; then
		skip=$((skip + 1))
	elif [ "$rc" -eq 0 ]; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		echo "$out" | tail -60
	fi
done
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
