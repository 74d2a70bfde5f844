#!/usr/bin/env bash
# make-examples.sh - rebuilds the example reports of this folder: a year
# (2025) of the demo site written by build/mkyear into a scratch database,
# reported as HTML (vi, en), CSV and JSON, the HTML printed to PDF and
# captured as PNG by headless chromium without network. Needs `make all`
# and the packages of `make deps` (chromium, fonts-dejavu-core).
set -eu
cd "$(dirname "$0")"
root=../..
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed -e "s#/tmp/firegw-demo/firegw.db#$tmp/demo.db#" -e "s#/tmp/firegw-demo/tty-gw#$tmp/tty#" \
	"$root/config/demo.yaml" >"$tmp/demo.yaml"
FIREGW_SENSORS_DIR=$root/sensors "$root/build/mkyear" -c "$tmp/demo.yaml" --year 2025 --readings 1000
fw() { FIREGW_SENSORS_DIR=$root/sensors "$root/build/firegw" "$@" -c "$tmp/demo.yaml"; }
fw report --period 2025 --format html -o report-2025.html
fw report --period 2025 --format html --lang en -o report-2025-en.html
fw report --period 2025 --format csv -o report-2025.csv
fw report --period 2025 --format json -o report-2025.json
net=()
[ "$(id -u)" = 0 ] && command -v unshare >/dev/null && net=(unshare -n)
chrome=("${net[@]}" chromium --headless --no-sandbox --disable-gpu --hide-scrollbars
	--no-pdf-header-footer --user-data-dir="$tmp/profile")
"${chrome[@]}" --print-to-pdf="$PWD/report-2025.pdf" "file://$PWD/report-2025.html" 2>/dev/null
"${chrome[@]}" --window-size=1100,2400 --screenshot="$PWD/report-2025.png" \
	"file://$PWD/report-2025.html" 2>/dev/null
pdfinfo report-2025.pdf | grep -E '^(Pages|Page size)'
