#!/bin/sh
# deb-test.sh DEB - the package on a clean Debian 12, as an installer gets it.
#
# Builds a minimal bookworm chroot with debootstrap (from the mirror apt on
# this machine uses; $DEB_TEST_MIRROR overrides), then inside it:
#   1. apt installs the .deb (so its Depends are resolved from the archive);
#      the firegw user exists (group firegw, in dialout, nologin), the unit
#      is enabled, the config is root:firegw 0640, and the installed firegw
#      passes `check` on the installed config with the installed profiles;
#   2. the config is edited, and a rebuilt package with a higher version and
#      a changed example config is installed over it: the edit is kept (the
#      new example is left as firegw.yaml.dpkg-dist);
#   3. remove keeps the config, purge removes it and /var/lib/firegw.
# Needs root and the network. The chroot's /proc is mounted for apt and
# unmounted, and the chroot deleted, whatever happens (trap). About 2-5 min;
# the downloaded .debs are kept in build/deb-test-cache for the next run.
set -eu

deb=$(readlink -f "$1")
here=$(cd "$(dirname "$0")/../.." && pwd)
cache=$here/build/deb-test-cache
[ "$(id -u)" = 0 ] || { echo "deb-test: needs root (debootstrap, chroot)"; exit 1; }
command -v debootstrap >/dev/null || { echo "deb-test: apt-get install debootstrap"; exit 1; }

mirror=${DEB_TEST_MIRROR:-}
if [ -z "$mirror" ]; then
	mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
		/etc/apt/sources.list.d/*.sources 2>/dev/null |
		sed -n -e 's|^deb \(\[[^]]*\] \)\{0,1\}\(https\{0,1\}://[^ ]*/debian\)/\{0,1\} .*|\2|p' \
			-e 's|^URIs: \(https\{0,1\}://[^ ]*/debian\)/\{0,1\}$|\1|p' | head -1)
fi
mirror=${mirror:-http://deb.debian.org/debian}

work=$(mktemp -d /var/tmp/firegw-deb-test.XXXXXX)
root=$work/root
cleanup()
{
	rc=$?
	if mountpoint -q "$root/proc" 2>/dev/null; then umount "$root/proc" || umount -l "$root/proc"; fi
	# never follow a mount into the host: only delete when nothing is mounted
	if ! grep -q " $work/" /proc/mounts; then rm -rf --one-file-system "$work"; fi
	[ $rc = 0 ] && echo "deb-test: PASS" || echo "deb-test: FAIL (exit $rc)"
	exit $rc
}
trap cleanup EXIT INT TERM HUP

step() { echo "== deb-test: $*"; }
# every command in the chroot is bounded in time
in_root() { timeout 600 chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
	DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 "$@"; }
fail() { echo "deb-test: $*" >&2; exit 1; }

step "debootstrap bookworm from $mirror"
mkdir -p "$cache"
timeout 900 debootstrap --variant=minbase --cache-dir="$cache" bookworm "$root" "$mirror" \
	>"$work/debootstrap.log" 2>&1 || { tail -20 "$work/debootstrap.log"; fail "debootstrap failed"; }
cp /etc/resolv.conf "$root/etc/resolv.conf"
mount -t proc proc "$root/proc"
# no daemon starts inside the chroot
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 0755 "$root/usr/sbin/policy-rc.d"
in_root apt-get update -qq >/dev/null

step "install $(basename "$deb") with apt"
cp "$deb" "$root/tmp/firegw.deb"
in_root apt-get install -y -q --no-install-recommends /tmp/firegw.deb \
	>"$work/apt.log" 2>&1 || { tail -30 "$work/apt.log"; fail "apt-get install failed"; }
in_root dpkg-query -W -f='${Status} ${Version}\n' firegw | grep -q '^install ok installed ' ||
	fail "firegw is not installed"
pw=$(in_root getent passwd firegw) || fail "no user firegw"
echo "   user: $pw"
case "$pw" in *:/var/lib/firegw:/usr/sbin/nologin) ;; *) fail "user firegw: $pw" ;; esac
in_root id -nG firegw | tr ' ' '\n' | grep -qx dialout || fail "firegw is not in dialout"
in_root id -ng firegw | grep -qx firegw || fail "firegw's group is not firegw"
[ "$(in_root stat -c '%a %U %G' /etc/firegw/firegw.yaml)" = "640 root firegw" ] ||
	fail "config: $(in_root stat -c '%a %U %G' /etc/firegw/firegw.yaml)"
[ "$(readlink "$root/etc/systemd/system/multi-user.target.wants/firegw.service")" = \
	/lib/systemd/system/firegw.service ] || fail "firegw.service is not enabled"
in_root firegw --version
in_root firegw check -q -c /etc/firegw/firegw.yaml || fail "firegw check fails on the installed config"
in_root setpriv --reuid=firegw --regid=firegw --init-groups firegw check -q -c /etc/firegw/firegw.yaml ||
	fail "user firegw cannot check (read) its config"

step "upgrade over an edited config"
sed -i 's/^  heartbeat_s: 30 /  heartbeat_s: 45 /' "$root/etc/firegw/firegw.yaml"
grep -q '^  heartbeat_s: 45 ' "$root/etc/firegw/firegw.yaml" || fail "the edit did not apply"
sum=$(md5sum <"$root/etc/firegw/firegw.yaml")
up=$work/up
dpkg-deb -R "$deb" "$up"
version=$(sed -n 's/^Version: //p' "$up/DEBIAN/control")
sed -i "s/^Version: .*/Version: $version+up1/" "$up/DEBIAN/control"
echo "# a later release's example" >>"$up/etc/firegw/firegw.yaml"
(cd "$up" && find . -type f ! -path './DEBIAN/*' -printf '%P\n' | LC_ALL=C sort | xargs md5sum) \
	>"$up/DEBIAN/md5sums"
dpkg-deb --root-owner-group -Zxz --build "$up" "$root/tmp/firegw-up.deb" >/dev/null
in_root apt-get install -y -q -o Dpkg::Options::=--force-confdef \
	-o Dpkg::Options::=--force-confold /tmp/firegw-up.deb >"$work/apt.log" 2>&1 ||
	{ tail -30 "$work/apt.log"; fail "the upgrade failed"; }
in_root dpkg-query -W -f='${Version}\n' firegw | grep -qx "$version+up1" || fail "not upgraded"
[ "$(md5sum <"$root/etc/firegw/firegw.yaml")" = "$sum" ] || fail "the edited config was replaced"
[ -f "$root/etc/firegw/firegw.yaml.dpkg-dist" ] || fail "no firegw.yaml.dpkg-dist beside it"
[ "$(in_root getent passwd firegw | wc -l)" = 1 ] || fail "user firegw twice"
in_root firegw check -q -c /etc/firegw/firegw.yaml || fail "check fails after the upgrade"

step "remove, then purge"
mkdir -p "$root/var/lib/firegw" && echo state >"$root/var/lib/firegw/firegw.db"
in_root apt-get remove -y -q firegw >"$work/apt.log" 2>&1 || fail "remove failed"
[ ! -e "$root/usr/bin/firegw" ] || fail "remove left /usr/bin/firegw"
[ -f "$root/etc/firegw/firegw.yaml" ] || fail "remove took the config"
[ -f "$root/var/lib/firegw/firegw.db" ] || fail "remove took the state"
in_root apt-get purge -y -q firegw >"$work/apt.log" 2>&1 || fail "purge failed"
[ ! -e "$root/etc/firegw/firegw.yaml" ] || fail "purge left the config"
[ ! -e "$root/var/lib/firegw" ] || fail "purge left /var/lib/firegw"
[ ! -e "$root/etc/systemd/system/multi-user.target.wants/firegw.service" ] ||
	fail "purge left the unit enabled"
if in_root dpkg-query -W -f='${Status}\n' firegw 2>/dev/null | grep -q ' installed$'; then
	fail "firegw still installed after the purge"
fi
