#!/usr/bin/env python3
"""Runs every tests/<dir>/test_*.py with unittest and prints the closing
line "PY: N passed, N failed" that tests/run-all.sh adds up.

The files run as separate processes, FIREGW_TEST_JOBS (default 2) at a
time, longest first (as the last run measured them, else the largest file
first): most of a test's time is spent waiting for the gateway, the broker
or the simulator, so two at a time on two cores halves the wall time
without asserting anything about time. Each file's output is printed whole
when it ends, never interleaved. FIREGW_TEST_JOBS=1 runs them one by one.
"""
import json
import os
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def run_one(directory, module):
    """Child: runs one test file, prints its counts on the last line."""
    sys.path.insert(0, directory)
    suite = unittest.TestLoader().loadTestsFromName(module)
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
    failed = len(result.failures) + len(result.errors)
    passed = result.testsRun - failed - len(result.skipped)
    print("PY: %d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 and result.testsRun > 0 else 1


def times_path():
    build = os.environ.get("FIREGW_BUILD", "build")
    root = os.path.abspath(os.path.join(HERE, "..", ".."))
    return os.path.join(root, build, "py-times.json")


def load_times():
    try:
        with open(times_path()) as f:
            t = json.load(f)
        return t if isinstance(t, dict) else {}
    except (OSError, ValueError):
        return {}


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--one":
        return run_one(sys.argv[2], sys.argv[3])
    files = []
    for d in sys.argv[1:]:
        for name in sorted(os.listdir(d)):
            if name.startswith("test_") and name.endswith(".py"):
                files.append((os.path.abspath(d), name[:-3]))
    if not files:
        print("PY: 0 passed, 1 failed (no test files)")
        return 1
    try:
        jobs = max(1, min(8, int(os.environ.get("FIREGW_TEST_JOBS", "2"))))
    except ValueError:
        jobs = 2
    past = load_times()

    def weight(f):
        key = os.path.join(os.path.basename(f[0]), f[1])
        return (past.get(key, 0.0), os.path.getsize(os.path.join(f[0], f[1] + ".py")))
    queue = sorted(files, key=weight, reverse=True)

    running = []  # (Popen, file, start, output file)
    passed = failed = 0
    bad = []
    took = {}
    while queue or running:
        while queue and len(running) < jobs:
            d, m = queue.pop(0)
            out = open(os.path.join("/tmp", "fg-py-%d-%s.log" % (os.getpid(), m)), "w+")
            p = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--one", d, m],
                                 cwd=d, stdout=out, stderr=subprocess.STDOUT)
            running.append((p, (d, m), time.monotonic(), out))
        # the first to end is reported first (bounded: each child has the
        # timeout of run-all.sh around the whole run)
        done = None
        for _ in range(36000):
            for r in running:
                if r[0].poll() is not None:
                    done = r
                    break
            if done:
                break
            time.sleep(0.1)
        if not done:
            for r in running:
                r[0].kill()
            print("PY: %d passed, %d failed (stuck)" % (passed, failed + len(running)))
            return 1
        running.remove(done)
        p, (d, m), start, out = done
        took[os.path.join(os.path.basename(d), m)] = round(time.monotonic() - start, 1)
        out.seek(0)
        text = out.read()
        out.close()
        os.unlink(out.name)
        print("==== %s/%s.py (%.0f s)" % (os.path.basename(d), m, time.monotonic() - start))
        sys.stdout.write(text)
        sys.stdout.flush()
        counts = [line for line in text.splitlines() if line.startswith("PY: ")]
        try:
            p_n, f_n = [int(x) for x in counts[-1].split()[1::2]]
        except (IndexError, ValueError):
            p_n, f_n = 0, 1
        if p.returncode != 0 and f_n == 0:
            f_n = 1
        passed += p_n
        failed += f_n
        if f_n:
            bad.append("%s/%s" % (os.path.basename(d), m))
    past.update(took)
    try:
        with open(times_path(), "w") as f:
            json.dump(past, f, indent=1, sort_keys=True)
    except OSError:
        pass
    if bad:
        print("PY failing files: %s" % " ".join(bad))
    print("PY: %d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
