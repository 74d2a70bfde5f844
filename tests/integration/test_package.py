#!/usr/bin/env python3
"""The package and the manual pages, as an installer and dpkg see them.

Builds the .deb with `make deb` (a staged `make install`), then checks what
dpkg-deb lists (paths, modes, owners), its control fields and conffile, and
installs it into a scratch root with dpkg itself:

    dpkg --root=R --force-script-chrootless --force-depends -i firegw_V_A.deb

so the maintainer scripts run on this machine with DPKG_ROOT=R: they must
create the firegw user in R/etc/passwd (and nothing on this machine), enable
the unit in R, give the config to group firegw; the built binary's `check`
must pass on the installed config with the installed profiles. Then an
edited config survives a reinstall (conffile), remove keeps it, purge
removes it and the state directory. `make install PREFIX=... DESTDIR=...`
and `make uninstall` are checked in a copy of the build directory.

The manual pages are rendered with groff's warnings on; every command and
option the binary accepts is in firegw(8), every key the config parser
accepts (as listed by its own "unknown key" errors) is in docs/config.md and
in firegw.yaml(5).
"""
import glob
import gzip
import hashlib
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import fgtest  # noqa: E402

ROOT = fgtest.ROOT
BUILD = fgtest.BUILD
FIREGW = fgtest.FIREGW
T = 120  # bound of any one command


def run(argv, check=True, env=None, cwd=None, timeout=T):
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.run(argv, capture_output=True, text=True, env=e, cwd=cwd, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError("%s exited %d\nstdout:\n%s\nstderr:\n%s" %
                             (" ".join(argv), p.returncode, p.stdout[-3000:], p.stderr[-3000:]))
    return p


def version():
    with open(os.path.join(ROOT, "gateway", "gateway.h"), encoding="utf-8") as f:
        m = re.search(r'^#define FIREGW_VERSION "([^"]+)"', f.read(), re.M)
    return m.group(1)


def arch():
    return run(["dpkg", "--print-architecture"]).stdout.strip()


_deb = None


def deb_path():
    """The package of this tree, built once per run (make keeps it when
    nothing changed)."""
    global _deb
    if _deb is None:
        run(["make", "-s", "--no-print-directory", "B=" + os.path.relpath(BUILD, ROOT), "deb"],
            cwd=ROOT, timeout=600)
        _deb = os.path.join(BUILD, "firegw_%s_%s.deb" % (version(), arch()))
        assert os.path.isfile(_deb), _deb
    return _deb


def file_digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def passwd_entry(root, name):
    with open(os.path.join(root, "etc", "passwd"), encoding="utf-8") as f:
        rows = [ln.rstrip("\n").split(":") for ln in f if ln.startswith(name + ":")]
    return rows


def group_entry(root, name):
    with open(os.path.join(root, "etc", "group"), encoding="utf-8") as f:
        for ln in f:
            parts = ln.rstrip("\n").split(":")
            if parts[0] == name:
                return parts
    return None


HOST_FILES = ["/etc/passwd", "/etc/group", "/etc/shadow", "/etc/gshadow"]
HOST_UNIT_LINK = "/etc/systemd/system/multi-user.target.wants/firegw.service"


class TestPackageContents(unittest.TestCase):
    """dpkg-deb's view of the package: files, modes, owners, control."""

    @classmethod
    def setUpClass(cls):
        cls.deb = deb_path()
        cls.tmp = tempfile.mkdtemp(prefix="firegw-pkg-")
        cls.tree = os.path.join(cls.tmp, "tree")
        cls.ctrl = os.path.join(cls.tmp, "DEBIAN")
        run(["dpkg-deb", "-x", cls.deb, cls.tree])
        run(["dpkg-deb", "-e", cls.deb, cls.ctrl])

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def listing(self):
        """path -> (mode string, owner/group) from dpkg-deb -c."""
        out = {}
        for ln in run(["dpkg-deb", "-c", self.deb]).stdout.splitlines():
            f = ln.split(None, 5)
            path = f[5].split(" -> ")[0]
            out[path.rstrip("/") or "."] = (f[0], f[1])
        return out

    def test_files_modes_and_owners(self):
        ls = self.listing()
        expected = {
            "./usr/bin/firegw": "-rwxr-xr-x",
            "./usr/bin/firegw-sim": "-rwxr-xr-x",
            "./etc/firegw/firegw.yaml": "-rw-r-----",
            "./lib/systemd/system/firegw.service": "-rw-r--r--",
            "./usr/lib/sysusers.d/firegw.conf": "-rw-r--r--",
            "./usr/share/man/man8/firegw.8.gz": "-rw-r--r--",
            "./usr/share/man/man5/firegw.yaml.5.gz": "-rw-r--r--",
            "./usr/share/doc/firegw/README.md": "-rw-r--r--",
            "./usr/share/doc/firegw/config.md": "-rw-r--r--",
        }
        for p in sorted(glob.glob(os.path.join(ROOT, "sensors", "*.yaml"))):
            expected["./usr/share/firegw/sensors/" + os.path.basename(p)] = "-rw-r--r--"
        for path, mode in expected.items():
            self.assertIn(path, ls, "missing from the package")
            self.assertEqual(ls[path][0], mode, path)
        allowed = ("./etc/firegw", "./lib/systemd/system", "./usr/lib/sysusers.d", "./usr/bin",
                   "./usr/share/firegw",
                   "./usr/share/man/man5", "./usr/share/man/man8", "./usr/share/doc/firegw")
        for path, (mode, owner) in ls.items():
            self.assertEqual(owner, "root/root", path)
            self.assertNotEqual(mode[8], "w", "%s is writable by others" % path)
            if mode.startswith("-"):
                self.assertTrue(path.startswith(allowed), "unexpected file %s" % path)
            else:
                self.assertEqual(mode, "drwxr-xr-x", path)

    def test_files_are_the_tree_s(self):
        """The packaged unit is the tree's (PREFIX /usr: nothing rewritten),
        the config is the example, the man pages are the generated ones."""
        pairs = [("lib/systemd/system/firegw.service", "systemd/firegw.service"),
                 ("usr/lib/sysusers.d/firegw.conf", "systemd/firegw.sysusers"),
                 ("etc/firegw/firegw.yaml", "config/example.yaml")]
        for inst, src in pairs:
            self.assertEqual(file_digest(os.path.join(self.tree, inst)),
                             file_digest(os.path.join(ROOT, src)), inst)
        for gz, page in (("usr/share/man/man8/firegw.8.gz", "firegw.8"),
                         ("usr/share/man/man5/firegw.yaml.5.gz", "firegw.yaml.5")):
            with gzip.open(os.path.join(self.tree, gz), "rb") as f:
                with open(os.path.join(BUILD, page), "rb") as g:
                    self.assertEqual(f.read(), g.read(), gz)
        # md5sums lists every file with its right sum
        p = run(["md5sum", "--quiet", "-c", os.path.join(self.ctrl, "md5sums")], cwd=self.tree)
        self.assertEqual(p.stdout, "")
        with open(os.path.join(self.ctrl, "md5sums")) as f:
            listed = {ln.split(None, 1)[1].strip() for ln in f}
        files = {os.path.relpath(os.path.join(d, n), self.tree)
                 for d, _, ns in os.walk(self.tree) for n in ns}
        self.assertEqual(listed, files)

    def test_control_fields_and_conffile(self):
        info = run(["dpkg-deb", "-I", self.deb]).stdout
        self.assertIn(" Package: firegw\n", info)
        self.assertIn(" Version: %s\n" % version(), info)
        self.assertIn(" Architecture: %s\n" % arch(), info)
        for s in ("conffiles", "postinst", "prerm", "postrm", "md5sums"):
            self.assertRegex(info, r"\n +\d+ bytes, +\d+ lines +\*? *%s" % s)
        depends = run(["dpkg-deb", "-f", self.deb, "Depends"]).stdout
        for lib in ("libpaho-mqtt1.3", "libmodbus5", "libsqlite3-0", "libyaml-0-2",
                    "libjansson4", "libsystemd0", "libssl3", "libc6", "passwd"):
            self.assertRegex(depends, r"(^|, )%s( \(|,|$)" % re.escape(lib), depends)
        with open(os.path.join(self.ctrl, "conffiles")) as f:
            self.assertEqual(f.read(), "/etc/firegw/firegw.yaml\n")
        self.assertEqual(run([FIREGW, "--version"]).stdout.strip(), "firegw " + version())

    def test_maintainer_scripts_parse(self):
        for s in ("postinst", "prerm", "postrm"):
            path = os.path.join(self.ctrl, s)
            self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o755, s)
            with open(path) as f:
                self.assertEqual(f.readline(), "#!/bin/sh\n", s)
            run(["sh", "-n", path])
            # dash is /bin/sh on Debian; bash --posix catches other slips
            run(["bash", "--posix", "-n", path])


class TestScratchRootInstall(unittest.TestCase):
    """dpkg installs, reinstalls, removes and purges the package in a
    scratch root; its maintainer scripts run here with DPKG_ROOT set."""

    def setUp(self):
        self.deb = deb_path()
        self.tmp = tempfile.mkdtemp(prefix="firegw-root-")
        self.root = os.path.join(self.tmp, "root")
        r = self.root
        for d in ("var/lib/dpkg/info", "var/lib/dpkg/updates", "var/lib/dpkg/triggers", "etc"):
            os.makedirs(os.path.join(r, d))
        for name in ("status", "available"):
            open(os.path.join(r, "var/lib/dpkg", name), "w").close()
        # the base system's users and groups (base-passwd gives these)
        files = {"passwd": "root:x:0:0:root:/root:/bin/bash\n",
                 "group": "root:x:0:\ndialout:x:20:\n",
                 "shadow": "root:*:19000:0:99999:7:::\n",
                 "gshadow": "root:*::\ndialout:*::\n"}
        for name, text in files.items():
            with open(os.path.join(r, "etc", name), "w") as f:
                f.write(text)
        self.host_before = {p: file_digest(p) for p in HOST_FILES if os.path.exists(p)}
        self.host_link_before = os.path.lexists(HOST_UNIT_LINK)

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def dpkg(self, *args):
        return run(["dpkg", "--root=" + self.root, "--force-script-chrootless",
                    "--force-depends", "--log=" + os.path.join(self.tmp, "dpkg.log")] + list(args))

    def rpath(self, p):
        return os.path.join(self.root, p.lstrip("/"))

    def assert_host_untouched(self):
        after = {p: file_digest(p) for p in HOST_FILES if os.path.exists(p)}
        self.assertEqual(after, self.host_before, "the host's users or groups changed")
        self.assertEqual(os.path.lexists(HOST_UNIT_LINK), self.host_link_before,
                         "the host's firegw.service enablement changed")

    def check_config(self, firegw, cfg, sensors):
        return run([firegw, "check", "-c", cfg], check=False,
                   env={"FIREGW_SENSORS_DIR": sensors})

    def test_install_reinstall_remove_purge(self):
        cfg = self.rpath("/etc/firegw/firegw.yaml")
        sensors = self.rpath("/usr/share/firegw/sensors")
        wants = self.rpath("/etc/systemd/system/multi-user.target.wants/firegw.service")

        self.dpkg("-i", self.deb)
        self.assert_host_untouched()
        st = run(["dpkg-query", "--admindir=" + self.rpath("/var/lib/dpkg"),
                  "-W", "-f=${Status} ${Version}", "firegw"]).stdout
        self.assertEqual(st, "install ok installed " + version())

        # the user and its groups, in the scratch root only
        users = passwd_entry(self.root, "firegw")
        self.assertEqual(len(users), 1, users)
        u = users[0]
        grp = group_entry(self.root, "firegw")
        self.assertIsNotNone(grp)
        self.assertEqual(u[3], grp[2], "primary group firegw")
        self.assertLess(int(u[2]), 1000, "a system user")
        self.assertEqual(u[5:7], ["/var/lib/firegw", "/usr/sbin/nologin"])
        self.assertIn("firegw", group_entry(self.root, "dialout")[3].split(","))

        # the unit enabled (deb-systemd-helper under DPKG_ROOT), not started
        self.assertTrue(os.path.islink(wants), "unit not enabled in the root")
        self.assertEqual(os.readlink(wants), "/lib/systemd/system/firegw.service")
        self.assertTrue(os.path.isfile(self.rpath("/lib/systemd/system/firegw.service")))

        # the config: root, group firegw, 0640
        s = os.stat(cfg)
        self.assertEqual((s.st_uid, s.st_gid, stat.S_IMODE(s.st_mode)), (0, int(grp[2]), 0o640))

        # the built binary and the installed one pass check on the installed
        # config, with the installed profiles; without them it fails
        for binary in (FIREGW, self.rpath("/usr/bin/firegw")):
            p = self.check_config(binary, cfg, sensors)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            self.assertIn("valid (0 warning(s))", p.stdout + p.stderr)
        empty = os.path.join(self.tmp, "no-profiles")
        os.mkdir(empty)
        p = self.check_config(FIREGW, cfg, empty)
        self.assertEqual(p.returncode, 1)
        self.assertIn("profile 'smoke-point' not found", p.stderr + p.stdout)

        # an edited config is kept when the package is installed again
        with open(cfg) as f:
            text = f.read()
        edited = text.replace("heartbeat_s: 30 ", "heartbeat_s: 45 ", 1)
        self.assertNotEqual(edited, text)
        edited += "# edited on site\n"
        with open(cfg, "w") as f:
            f.write(edited)
        os.makedirs(self.rpath("/var/lib/firegw"))
        with open(self.rpath("/var/lib/firegw/firegw.db"), "w") as f:
            f.write("state")
        self.dpkg("-i", self.deb)
        self.assert_host_untouched()
        with open(cfg) as f:
            self.assertEqual(f.read(), edited, "the edited config was replaced")
        self.assertEqual(len(passwd_entry(self.root, "firegw")), 1, "user created twice")
        self.assertEqual(os.stat(cfg).st_gid, int(grp[2]))
        self.assertEqual(self.check_config(FIREGW, cfg, sensors).returncode, 0)
        self.assertTrue(os.path.islink(wants))

        # remove: the program goes, the config and the state stay
        self.dpkg("-r", "firegw")
        self.assert_host_untouched()
        for p in ("/usr/bin/firegw", "/usr/bin/firegw-sim", "/lib/systemd/system/firegw.service",
                  "/usr/lib/sysusers.d/firegw.conf",
                  "/usr/share/man/man8/firegw.8.gz", "/usr/share/firegw/sensors"):
            self.assertFalse(os.path.lexists(self.rpath(p)), p)
        self.assertTrue(os.path.isfile(cfg), "remove must keep the config")
        # masked (its enablement kept for a reinstall), so it cannot start
        self.assertEqual(os.readlink(self.rpath("/etc/systemd/system/firegw.service")),
                         "/dev/null")
        self.assertTrue(os.path.isfile(self.rpath("/var/lib/firegw/firegw.db")))

        # purge: the config, the state and the enablement go; the user stays
        self.dpkg("-P", "firegw")
        self.assert_host_untouched()
        for p in ("/etc/firegw", "/var/lib/firegw", wants,
                  "/var/lib/systemd/deb-systemd-helper-enabled/firegw.service.dsh-also",
                  "/etc/systemd/system/firegw.service"):
            self.assertFalse(os.path.lexists(self.rpath(p)), p)
        st = run(["dpkg-query", "--admindir=" + self.rpath("/var/lib/dpkg"),
                  "-W", "-f=${Status}", "firegw"], check=False).stdout
        self.assertIn(st, ("", "unknown ok not-installed"))
        self.assertEqual(len(passwd_entry(self.root, "firegw")), 1)


class TestMakeInstall(unittest.TestCase):
    """make install and uninstall with another PREFIX and a DESTDIR, in a
    copy of the build directory (so the tree's build keeps PREFIX /usr)."""

    @unittest.skipIf(os.environ.get("FIREGW_SANITIZE"),
                     "rebuilds config.o with default flags; run without sanitizers")
    def test_prefix_destdir_install_uninstall(self):
        tmp = tempfile.mkdtemp(prefix="firegw-inst-")
        self.addCleanup(shutil.rmtree, tmp, True)
        b = os.path.join(tmp, "b")
        dest = os.path.join(tmp, "dest")
        # objects and their dependency files, with their times: only what
        # PREFIX changes is rebuilt (only these: other tests run meanwhile)
        os.mkdir(b)
        deb_path()  # the manual pages are made with the package (make man)
        for sub in ("gateway", "sensors"):
            shutil.copytree(os.path.join(BUILD, sub), os.path.join(b, sub))
        for name in ("libfiregw.a", "firegw", "firegw-sim", "firegw.8", "firegw.yaml.5",
                     "prefix.stamp"):
            shutil.copy2(os.path.join(BUILD, name), b)
        pre = "/opt/fg"
        mk = ["make", "-s", "--no-print-directory", "B=" + b, "PREFIX=" + pre, "DESTDIR=" + dest]
        run(mk + ["install"], cwd=ROOT, timeout=300)
        d = lambda p: os.path.join(dest, p.lstrip("/"))  # noqa: E731
        for p, mode in (("/opt/fg/bin/firegw", 0o755), ("/opt/fg/bin/firegw-sim", 0o755),
                        ("/opt/fg/lib/systemd/system/firegw.service", 0o644),
                        ("/opt/fg/lib/sysusers.d/firegw.conf", 0o644),
                        ("/opt/fg/share/man/man8/firegw.8.gz", 0o644),
                        ("/opt/fg/share/man/man5/firegw.yaml.5.gz", 0o644),
                        ("/opt/fg/share/firegw/sensors/smoke-point.yaml", 0o644),
                        ("/opt/fg/share/doc/firegw/README.md", 0o644),
                        ("/etc/firegw/firegw.yaml", 0o640)):
            self.assertEqual(stat.S_IMODE(os.stat(d(p)).st_mode), mode, p)
        with open(d("/opt/fg/lib/systemd/system/firegw.service")) as f:
            unit = f.read()
        execs = re.findall(r"^Exec\w*=(\S+)", unit, re.M)
        self.assertIn("/opt/fg/bin/firegw", execs)
        self.assertNotIn("/usr/bin/firegw", unit)
        # the installed binary looks for profiles under its PREFIX
        p = run([d("/opt/fg/bin/firegw"), "check", "-c", d("/etc/firegw/firegw.yaml")],
                check=False, env={"FIREGW_SENSORS_DIR": ""})
        self.assertEqual(p.returncode, 1)
        self.assertIn("/opt/fg/share/firegw/sensors;", p.stderr + p.stdout)

        # an edited config is neither overwritten nor removed
        cfg = d("/etc/firegw/firegw.yaml")
        with open(cfg, "a") as f:
            f.write("# edited\n")
        out = run(mk + ["install"], cwd=ROOT).stdout
        self.assertIn("was edited: kept", out)
        out = run(mk + ["uninstall"], cwd=ROOT).stdout
        self.assertIn("was edited: left in place", out)
        left = sorted(os.path.relpath(os.path.join(dp, n), dest)
                      for dp, _, ns in os.walk(dest) for n in ns)
        self.assertEqual(left, ["etc/firegw/firegw.yaml"])
        os.unlink(cfg)
        run(mk + ["install"], cwd=ROOT)
        run(mk + ["uninstall"], cwd=ROOT)
        left = [os.path.join(dp, n) for dp, _, ns in os.walk(dest) for n in ns]
        self.assertEqual(left, [])
        self.assertFalse(os.path.exists(d("/etc/firegw")))


def render(page):
    """groff with every warning, then man as a user runs it: (text, warnings)."""
    g = run(["groff", "-k", "-ww", "-z", "-man", page])
    m = run(["man", "-l", page], env={"MANWIDTH": "100", "MAN_KEEP_FORMATTING": ""})
    # what col -b does: overstrike (bold, underline) removed
    return re.sub(r".\x08", "", m.stdout), g.stderr + m.stderr


class TestManPages(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        deb_path()  # builds the pages too
        cls.man8, w8 = render(os.path.join(BUILD, "firegw.8"))
        cls.man5, w5 = render(os.path.join(BUILD, "firegw.yaml.5"))
        cls.warnings = w8 + w5

    def test_pages_render_without_warnings(self):
        self.assertEqual(self.warnings, "")
        for s in ("NAME", "SYNOPSIS", "COMMANDS", "FILES", "EXIT STATUS", "SEE ALSO"):
            self.assertRegex(self.man8, r"(?m)^%s$" % s)
        for s in ("NAME", "MQTT", "STORAGE", "BUSES", "DEVICES", "COMPLIANCE", "REMOTE"):
            self.assertRegex(self.man5, r"(?m)^%s$" % s)

    def test_every_command_and_option_in_firegw_8(self):
        top = run([FIREGW, "--help"]).stdout
        cmds = re.findall(r"(?m)^  ([a-z]+) ", top)
        self.assertGreaterEqual(len(cmds), 15, top)
        for c in cmds:
            self.assertRegex(self.man8, r"(?m)^   %s$" % c, "no subsection for " + c)
            for opt in set(re.findall(r"--[a-z][a-z-]*", run([FIREGW, c, "--help"]).stdout)):
                self.assertIn(opt, self.man8, "%s %s" % (c, opt))
        # every long option any command's getopt table accepts is documented,
        # by its long name or by its short letter
        n = 0
        for src in glob.glob(os.path.join(ROOT, "gateway", "*.c")):
            with open(src, encoding="utf-8") as f:
                text = f.read()
            for name, short in re.findall(
                    r'\{\s*"([a-z][a-z-]*)",\s*(?:no|required|optional)_argument,\s*'
                    r"(?:NULL|0),\s*'(.)'\s*\}", text):
                n += 1
                self.assertTrue("--" + name in self.man8 or
                                re.search(r"(^|[\s\[])-%s\b" % re.escape(short), self.man8),
                                "option --%s (-%s) of %s is not in firegw(8)" %
                                (name, short, os.path.basename(src)))
        self.assertGreater(n, 30)

    def test_every_config_key_documented(self):
        """The parser's own key lists (from its unknown-key errors, one per
        mapping) against docs/config.md sections and firegw.yaml(5)."""
        cfg = os.path.join(tempfile.mkdtemp(prefix="firegw-keys-"), "keys.yaml")
        self.addCleanup(shutil.rmtree, os.path.dirname(cfg), True)
        with open(cfg, "w") as f:
            f.write("""\
zz_unknown: 1
site: {id: s1, zz_unknown: 1}
mqtt: {uri: "ssl://127.0.0.1:8883", zz_unknown: 1, tls: {ca_file: "", zz_unknown: 1}}
storage: {path: /tmp/x.db, zz_unknown: 1}
buses:
  - {id: b1, rtu: {device: /dev/null, zz_unknown: 1}, zz_unknown: 1}
  - {id: b2, tcp: {host: 127.0.0.1, zz_unknown: 1}}
devices:
  - id: d1
    bus: b2
    unit: 1
    profile: smoke-point
    zz_unknown: 1
    rules: {obscuration: {alarm_above: 4.0, zz_unknown: 1}}
    points: {fire: {zone: z, zz_unknown: 1}}
compliance: {zz_unknown: 1}
remote: {zz_unknown: 1}
""")
        p = run([FIREGW, "check", "-c", cfg], check=False)
        self.assertEqual(p.returncode, 1)
        found = re.findall(r"unknown key 'zz_unknown' in ([^;]+); allowed: (.*)$",
                           p.stderr + p.stdout, re.M)
        self.assertEqual(len(found), 13, p.stderr)
        with open(os.path.join(ROOT, "docs", "config.md"), encoding="utf-8") as f:
            doc = f.read()
        sections = {}
        for m in re.finditer(r"(?m)^## (.*)$", doc):
            sections[m.group(1).strip("`")] = m.end()
        ends = sorted(sections.values()) + [len(doc)]

        def section(name):
            start = sections[name]
            return doc[start:min(e for e in ends if e > start)]

        where = {"the top level": "Top level", "site": "site", "mqtt": "mqtt",
                 "mqtt.tls": "mqtt", "storage": "storage", "compliance": "compliance",
                 "remote": "remote"}
        n = 0
        for ctx, keys in found:
            sec = where.get(ctx) or ("buses" if ctx.startswith("bus ") else "devices")
            text = section(sec)
            for k in keys.split(", "):
                n += 1
                self.assertIn("`%s`" % k, text, "key %s (%s) not in docs/config.md ## %s" %
                              (k, ctx, sec))
                self.assertRegex(self.man5, r"\b%s\b" % re.escape(k), k)
        self.assertGreater(n, 80)


if __name__ == "__main__":
    unittest.main(verbosity=2)
