"""The inspectors' commands against a database holding a year of the demo
site, written by build/mkyear exactly as the daemon writes events (no daemon
needed): firegw compliance (now, as published, recomputed), verify (intact,
a row edited by hand, a claimed head), report (json, csv, html, bad
periods), and the HTML report rendered by a real browser (Debian's
chromium, headless, without network) into a PDF whose text is checked with
pdftotext and whose pages are counted with pdfinfo."""

import csv
import io
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import fgtest  # noqa: E402

MKYEAR = os.path.join(fgtest.BUILD, "mkyear")
DEMO = os.path.join(fgtest.ROOT, "config", "demo.yaml")


def chromium():
    for name in ("chromium", "chromium-browser"):
        p = shutil.which(name)
        if p:
            return p
    return None


class InspectTest(fgtest.FiregwTest):
    def setUp(self):
        super().setUp()
        e = self.env
        with open(DEMO, encoding="utf-8") as f:
            text = f.read()
        text = text.replace("/tmp/firegw-demo/firegw.db", e.db)
        text = text.replace("/tmp/firegw-demo/tty-gw", e.tty_gw)
        with open(e.config_path, "w", encoding="utf-8") as f:
            f.write(text)
        r = subprocess.run([MKYEAR, "-c", e.config_path, "--readings", "1000"],
                           capture_output=True, text=True, timeout=120,
                           env=dict(os.environ, **e.gw_env()))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def fw(self, *args):
        return self.env.firegw(*args, "-c", self.env.config_path)

    def test_compliance_now_published_recomputed(self):
        r = self.fw("compliance", "--format", "json")
        self.assertEqual(r.returncode, 1, r.stderr)  # maintenance overdue since June
        st = json.loads(r.stdout)
        self.assertEqual(st["schema"], "firegw.compliance.v1")
        self.assertEqual(st["overall"], "non_compliant")
        self.assertEqual(st["items"]["maintenance"]["status"], "overdue")
        # 2026-04-09: the comm_loss open since 04-01 is over 7 days old
        r = self.fw("compliance", "--at", "2026-04-09", "--format", "json")
        pub = json.loads(r.stdout)
        self.assertEqual(pub["items"]["faults"]["status"], "non_compliant")
        r = self.fw("compliance", "--at", "2026-04-09", "--recompute", "--format", "json")
        rec = json.loads(r.stdout)
        self.assertEqual(rec["items"]["faults"]["status"], "non_compliant")
        # the police inspection entered as failed was corrected two days later
        r = self.fw("compliance", "--at", "2026-03-21", "--recompute", "--format", "json")
        self.assertEqual(json.loads(r.stdout)["items"]["police_inspection"]["status"],
                         "non_compliant")
        r = self.fw("compliance", "--at", "2026-03-23", "--recompute", "--format", "json")
        self.assertEqual(json.loads(r.stdout)["items"]["police_inspection"]["status"], "ok")
        # May's self-inspection missed: overdue in early June
        r = self.fw("compliance", "--at", "2026-06-05", "--recompute", "--format", "json")
        self.assertEqual(json.loads(r.stdout)["items"]["self_inspection"]["status"], "overdue")
        # human output: Vietnamese by default, English on request
        r = self.fw("compliance")
        self.assertIn("Không đạt", r.stdout)
        self.assertIn("Bảo dưỡng", r.stdout)
        r = self.fw("compliance", "--lang", "en")
        self.assertIn("Non-compliant", r.stdout)

    def test_compliance_bad_arguments(self):
        for args, what in ((["--at", "2026-02-30"], "--at"), (["--recompute"], "--recompute"),
                           (["--format", "xml"], "--format"), (["--lang", "fr"], "--lang")):
            r = self.fw("compliance", *args)
            self.assertEqual(r.returncode, 2, args)
            self.assertIn(what, r.stderr, args)
        r = self.fw("compliance", "--at", "2025-06-01")
        self.assertEqual(r.returncode, 1)
        self.assertIn("no status was published", r.stderr)

    def test_verify_intact_then_edited(self):
        r = self.fw("verify")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("chain: intact", r.stdout)
        head = [l.split(" ", 1)[1] for l in r.stdout.splitlines() if l.startswith("head: ")][0]
        r = self.fw("verify", "--head", head)
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertIn("matches", r.stdout)
        r = self.fw("verify", "--head", "12:" + "0" * 64)
        self.assertEqual(r.returncode, 1, r.stdout)
        r = self.fw("verify", "--head", "12")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--head", r.stderr)
        # an inspector's record edited by hand
        db = sqlite3.connect(self.env.db)
        seq = db.execute("SELECT seq FROM events WHERE type = 'police_inspection' "
                         "ORDER BY seq LIMIT 1").fetchone()[0]
        db.execute("UPDATE events SET payload = replace(payload, '\"fail\"', '\"pass\"') "
                   "WHERE seq = ?", (seq,))
        db.commit()
        db.close()
        r = self.fw("verify")
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("first broken link at seq %d" % seq, r.stdout)

    def test_report_formats(self):
        r = self.fw("report", "--period", "2026", "--format", "json")
        self.assertEqual(r.returncode, 0, r.stderr)
        rep = json.loads(r.stdout)
        self.assertEqual(rep["schema"], "firegw.report.v1")
        self.assertEqual(rep["site"]["facility_id"], "TG-0001234")
        self.assertEqual(rep["alarms"]["count"], 3)
        self.assertEqual(rep["alarms"]["by_verdict"],
                         {"real": 1, "unwanted": 1, "test": 0, "none": 1})
        self.assertEqual(rep["alarms"]["unwanted_12_months"], 1)
        a = rep["alarms"]["list"][0]
        self.assertEqual((a["device"], a["point"], a["zone"], a["zone_no"]),
                         ("smoke-a1", "fire", "khu-a", 11))
        self.assertIsNotNone(a["acked"])
        fault = [f for f in rep["faults"]["list"] if f["type"] == "comm_loss"][0]
        self.assertEqual(fault["duration_s"], 9 * 86400)
        self.assertEqual(rep["disablements"]["count"], 1)
        self.assertIn("smoke-a2.fire", rep["tests"]["untested"])
        later = [x for x in rep["records"] if x["kind"] == "maintenance"][0]
        self.assertTrue(later["entered_later"])
        police = [x for x in rep["records"] if x["kind"] == "police_inspection"]
        self.assertEqual(police[0]["corrected_by"], police[1]["event_id"])
        self.assertEqual(rep["availability"]["longest_outage_s"], 7200)
        self.assertGreater(len(rep["compliance"]["timeline"]), 300)
        r = self.fw("report", "--period", "2026-H1", "--format", "csv", "--lang", "en")
        self.assertEqual(r.returncode, 0, r.stderr)
        rows = list(csv.reader(io.StringIO(r.stdout)))
        self.assertEqual(rows[0], ["section", "key", "value"])
        self.assertIn(["summary", "address", "Đường Lê Lợi, Phường 1, TP Mỹ Tho, Tiền Giang"],
                      rows)
        self.assertIn(["summary", "alarms", "2"], rows)

    def test_report_bad_arguments(self):
        cases = (
            (["--period", "2026-H3"], "--period '2026-H3': a half-year is H1 or H2"),
            (["--period", "2026-13"], "--period '2026-13': the month must be 01..12"),
            (["--period", "2026-02-30..2026-03-01"],
             "--period: FROM '2026-02-30' is not a day YYYY-MM-DD"),
            (["--period", "2026-03-01..2026-02-01"], "--period: TO 2026-02-01 is before FROM"),
            (["--period", "last-year"], "--period 'last-year': not a period"),
            (["--period", "2026", "--format", "pdf"], "--format takes json, csv or html"),
            (["--period", "2026", "--lang", "de"], "--lang takes vi or en"),
            ([], "--period is required"),
        )
        for args, msg in cases:
            r = self.fw("report", *args)
            self.assertEqual(r.returncode, 2, args)
            self.assertIn(msg, r.stderr, args)

    def test_history_zone_type_csv(self):
        r = self.fw("history", "--zone", "khu-a", "--class", "alarm", "--format", "json")
        self.assertEqual(r.returncode, 0, r.stderr)
        evs = [json.loads(l) for l in r.stdout.splitlines()]
        self.assertEqual(len(evs), 6)  # three alarms, each active and cleared
        self.assertTrue(all(e["zone"] == "khu-a" for e in evs))
        r = self.fw("history", "--zone", "khu-d", "--class", "alarm", "--json")
        self.assertEqual(r.stdout, "")
        r = self.fw("history", "--type", "maintenance", "--format", "csv")
        rows = list(csv.reader(io.StringIO(r.stdout)))
        self.assertEqual(rows[0][:5], ["seq", "ts", "event_id", "class", "type"])
        self.assertEqual(len(rows), 2)
        self.assertEqual(rows[1][4], "maintenance")
        self.assertEqual(rows[1][13], "Sổ bảo dưỡng giấy, nhập lại")  # quoted: a comma
        # the table keeps its old lines, --limit counts matches
        r = self.fw("history", "--type", "self_inspection", "--limit", "3")
        self.assertEqual(len(r.stdout.splitlines()), 3)
        self.assertIn("3 event(s)", r.stderr)
        r = self.fw("history", "--format", "xml")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--format takes table, csv or json", r.stderr)

    @unittest.skipUnless(chromium() and shutil.which("pdftotext"),
                         "chromium and poppler-utils (make deps)")
    def test_html_report_in_a_browser(self):
        e = self.env
        html = os.path.join(e.dir, "report.html")
        pdf = os.path.join(e.dir, "report.pdf")
        png = os.path.join(e.dir, "report.png")
        r = self.fw("report", "--period", "2026", "--format", "html", "-o", html)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(html, encoding="utf-8") as f:
            src = f.read()
        self.assertNotIn("http://", src.replace("http://www.w3.org/2000/svg", ""))
        self.assertNotIn("https://", src)
        prof = os.path.join(e.dir, "chromium-profile")
        base = [chromium(), "--headless", "--no-sandbox", "--disable-gpu",
                "--user-data-dir=" + prof, "--no-pdf-header-footer"]
        if os.geteuid() == 0 and shutil.which("unshare"):
            base = ["unshare", "-n"] + base  # no network: nothing may be fetched
        for extra in (["--print-to-pdf=" + pdf], ["--screenshot=" + png,
                                                   "--window-size=1100,1600"]):
            p = e.spawn("chromium", base + extra + ["file://" + html])
            rc = p.p.wait(timeout=60)
            self.assertEqual(rc, 0, "\n".join(p.lines[-20:]))
        self.assertTrue(os.path.getsize(png) > 10000)
        text = subprocess.run(["pdftotext", pdf, "-"], capture_output=True,
                              text=True, timeout=60).stdout
        self.assertIn("Chợ Mỹ Tho — Khu A", text)
        self.assertRegex(text, r"Số lần báo cháy:\s*3\b")  # the alarm count
        self.assertIn("Không đạt", text)
        info = subprocess.run(["pdfinfo", pdf], capture_output=True, text=True,
                              timeout=60).stdout
        pages = int([l.split()[-1] for l in info.splitlines() if l.startswith("Pages:")][0])
        self.assertTrue(1 <= pages <= 20, pages)
        self.assertIn("A4", info)


if __name__ == "__main__":
    fgtest.main()
