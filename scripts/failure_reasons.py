#!/usr/bin/python3
"""Why each failed test of a meson test log failed, in a few lines: the
assertion or error that ended it, with the test's last lines before it.

usage: failure_reasons.py MESON_LOGS/testlog.json LABEL
"""
import json
import sys

CONTEXT = 6  # lines kept before the error


def reason(output):
    """The error a test's output ends with (a Python traceback's last line,
    and the lines before the traceback), or its last lines."""
    lines = [l.rstrip() for l in output.splitlines() if l.strip()]
    tb = [i for i, l in enumerate(lines) if l.startswith("Traceback (most recent call last)")]
    if not tb:
        return lines[-CONTEXT:]
    start = tb[-1]
    # The test's own last lines: before the node logs the harness prints.
    own = next((i for i in range(start) if lines[i].startswith("---- ")), start)
    # The traceback ends at its first unindented line after the header: the
    # exception, whose message may run over several lines.
    end = next((i for i in range(start + 1, len(lines)) if not lines[i].startswith(" ")),
               len(lines) - 1)
    message = []
    for l in lines[end:]:
        if l.startswith("---- "):  # the node logs the harness prints after it
            break
        message.append(l)
    return lines[max(0, own - CONTEXT):own] + lines[end - 2:end] + message[:8]


def main():
    log, label = sys.argv[1], sys.argv[2]
    for line in open(log):
        t = json.loads(line)
        if t["result"] in ("OK", "EXPECTEDFAIL", "SKIP"):
            continue
        print("WHY %s: %s (%s, exit %s):" % (label, t["name"], t["result"], t.get("returncode")))
        # meson keeps a test's stderr apart (where Python's tracebacks go):
        # the reason is read from both, stdout first.
        output = (t.get("stdout") or "") + "\n" + (t.get("stderr") or "")
        for l in reason(output):
            print("  " + l[:300])


if __name__ == "__main__":
    main()
