#!/usr/bin/env bash
# `make run`: the whole firegw chain on this machine, shown to a person.
# Starts a private mosquitto on a free loopback port, a socat pty pair for
# the RS-485 line, the Modbus field simulator (RTU + TCP), the gateway with
# config/demo.yaml, and `firegw watch` (what the command center sees); then
# plays config/demo-scenario.txt and resets the latched alarms as a fire
# officer would. Ctrl-C stops everything it started, by PID.
# DEMO_SECONDS=N stops by itself after N seconds (for unattended runs).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${FIREGW_BUILD:-$root/build}
run=${FIREGW_DEMO_DIR:-/tmp/firegw-demo}
pids=()
pause_pid=

cleanup() {
	trap - EXIT INT TERM HUP
	# the terminal may be gone (SIGHUP): a failed echo must not stop the cleanup
	echo 2>/dev/null || true
	echo "stopping: ${#pids[@]} processes started by the demo" 2>/dev/null || true
	# newest first, each waited for: the gateway says "offline, shutdown"
	# to the broker before the broker goes
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
		kill -TERM "${pids[i]}" 2>/dev/null || true
		for _ in $(seq 50); do kill -0 "${pids[i]}" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "${pids[i]}" 2>/dev/null || true
	done
	[ -n "$pause_pid" ] && kill -TERM "$pause_pid" 2>/dev/null || true
	echo "logs kept in $run" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# closing the terminal of `make run` stops everything it started too
trap 'exit 129' HUP

# A pause that a signal ends at once: bash runs a trap only between
# commands, so a plain `sleep 80` would hold off the hang-up's cleanup for
# up to 80 s; the `wait` builtin returns as soon as a trapped signal comes.
pause() {
	sleep "$1" &
	pause_pid=$!
	wait "$pause_pid" || true
	pause_pid=
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_for() { # wait_for SECONDS DESCRIPTION COMMAND...: bounded wait for a condition
	local secs=$1 what=$2; shift 2
	for _ in $(seq $((secs * 10))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
	echo "demo: timed out waiting for $what" >&2; exit 1
}

rm -rf "$run"
mkdir -p "$run/mosq" "$run/run"
mqtt_port=$(free_port)
tcp_port=$(free_port)

cat >"$run/mosquitto.conf" <<CONF
listener $mqtt_port 127.0.0.1
allow_anonymous true
persistence true
persistence_location $run/mosq/
CONF
mosquitto -c "$run/mosquitto.conf" >"$run/mosquitto.log" 2>&1 &
pids+=($!)
wait_for 10 "mosquitto on port $mqtt_port" bash -c "exec 3<>/dev/tcp/127.0.0.1/$mqtt_port"

socat pty,raw,echo=0,link="$run/tty-gw" pty,raw,echo=0,link="$run/tty-sim" >"$run/socat.log" 2>&1 &
pids+=($!)
wait_for 10 "the socat pty pair" test -e "$run/tty-sim"

sed -e "s#tcp://127.0.0.1:1883#tcp://127.0.0.1:$mqtt_port#" \
    -e "s#port: 1502#port: $tcp_port#" \
    "$root/config/demo.yaml" >"$run/firegw.yaml"
export FIREGW_SENSORS_DIR="$root/sensors" RUNTIME_DIRECTORY="$run/run"

echo "firegw demo: broker 127.0.0.1:$mqtt_port, Modbus TCP 127.0.0.1:$tcp_port, RTU $run/tty-gw"
"$build/firegw" check -q -c "$run/firegw.yaml"

"$build/firegw-sim" -c "$run/firegw.yaml" --ctl "$run/sim.sock" --rtu "rs485-1=$run/tty-sim" --pace \
	>"$run/sim.out" 2>"$run/sim.log" &
pids+=($!)
wait_for 10 "the simulator" grep -q ready "$run/sim.out"

"$build/firegw" run -c "$run/firegw.yaml" >"$run/firegw.log" 2>&1 &
pids+=($!)

echo "the command center's view (firegw watch), one line per event, then the state table:"
"$build/firegw" watch -c "$run/firegw.yaml" &
pids+=($!)
# what the demo started, for whoever must check it stops them all
echo "${pids[@]}" >"$run/pids"
wait_for 15 "the gateway online" grep -q "uplink to .* up" "$run/firegw.log"
pause 3 # let the first readings and states show before the story starts

tail -n +1 -f "$run/sim.out" 2>/dev/null | grep --line-buffered '^==\|^$' &
pids+=($!)
"$build/firegw-sim" ctl "$run/sim.sock" play "$root/config/demo-scenario.txt" >/dev/null

pause 80
echo
echo "== 6. The market's fire officer resets the latched alarms (firegw reset ... --by)"
"$build/firegw" reset smoke-a2 --by "Trần Văn Bảo (PCCC cơ sở)" -c "$run/firegw.yaml"
"$build/firegw" reset heat-a2 --by "Trần Văn Bảo (PCCC cơ sở)" -c "$run/firegw.yaml"
pause 3
echo
echo "== The gateway's own view (firegw status, read-only from SQLite):"
"$build/firegw" status -c "$run/firegw.yaml"
echo
if [ -n "${DEMO_SECONDS:-}" ]; then
	pause "$DEMO_SECONDS"
else
	echo "scenario done; the gateway keeps running (heartbeats, telemetry). Ctrl-C stops everything."
	wait "${pids[3]}" || true
fi
