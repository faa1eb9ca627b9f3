#!/usr/bin/env python3
"""Prints one line per engine from a pytest JUnit report of the engine suite:
'ENGINE RUNTIME: N passed, N failed, N skipped', then each failure with the
first lines of its message (the engine's error, carrying the runtime's).
Usage: summary.py REPORT.xml RUNTIME_NAME"""
import sys
import xml.etree.ElementTree as ET

ENGINES = {"test_podman": "podman", "test_containerd": "containerd", "test_registry": "registry"}


def main(report, runtime):
    counts, failures = {}, []
    for case in ET.parse(report).getroot().iter("testcase"):
        engine = ENGINES.get(case.get("classname", "").split(".")[-1], "other")
        c = counts.setdefault(engine, [0, 0, 0])
        kinds = {child.tag: child for child in case}
        bad = kinds.get("failure") if "failure" in kinds else kinds.get("error")
        if bad is not None:
            c[1] += 1
            text = (bad.get("message") or bad.text or "").strip().splitlines()
            failures.append((engine, case.get("name"), " | ".join(text[:4])[:400]))
        elif "skipped" in kinds:
            c[2] += 1
        else:
            c[0] += 1
    for engine in ("podman", "containerd", "registry", "other"):
        if engine in counts:
            p, f, s = counts[engine]
            print("%s %s: %d passed, %d failed, %d skipped" % (engine, runtime, p, f, s))
    for engine, name, text in failures:
        print("  FAILED %s %s: %s" % (engine, name, text))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
