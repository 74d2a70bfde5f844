#!/usr/bin/env python3
"""Runs every tests/<dir>/test_*.py with unittest and prints the closing
line "PY: N passed, N failed" that tests/run-all.sh adds up."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))


def main():
    loader = unittest.TestLoader()
    suite = unittest.TestSuite()
    for d in sys.argv[1:]:
        suite.addTests(loader.discover(d, pattern="test_*.py", top_level_dir=d))
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
    failed = len(result.failures) + len(result.errors)
    passed = result.testsRun - failed - len(result.skipped)
    print("PY: %d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 and result.testsRun > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
