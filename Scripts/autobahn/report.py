#!/usr/bin/env python3
"""Summarise an Autobahn run and decide pass/fail (Scripts/autobahn.sh, Scripts/autobahn-server.sh).

    report.py --index reports/autobahn/clients/index.json --agent swift-websockets \
              --expected expected-cases.txt --exclusions Scripts/autobahn/exclusions.txt
    report.py --role server --index reports/autobahn/servers/index.json \
              --agent swift-websockets-server --expected ... --exclusions ...

--role client (default): our client against wstest's fuzzing server, whose index.json is written
on /updateReports. --role server: our server against wstest's fuzzing client, which writes
index.json after its last case. Either way index.json is authoritative: per agent, per
case id, "behavior", "behaviorClose", "duration" (ms), "reportfile". A case passes when its
behavior is OK or INFORMATIONAL and its behaviorClose is OK or INFORMATIONAL (wstest itself
marks the close of 7.1.6, 7.13.1 and 7.13.2 INFORMATIONAL whatever the peer does).
Also accepted, but reported:
  - UNIMPLEMENTED in groups 12 and 13 (permessage-deflate) while
    AUTOBAHN_ALLOW_UNIMPLEMENTED_COMPRESSION=1 (off by default now that permessage-deflate exists);
  - cases listed in the exclusions file (`<case id> <reason>`, `#` comments).
NON-STRICT is a failure, listed apart from the other failures. A case of the spec that is
missing from index.json (the client stopped early, the server went away) is a failure too.
Exit status: 0 pass, 1 fail.
"""
import argparse
import json
import os
import sys

GROUPS = {
    1: "Framing",
    2: "Pings/Pongs",
    3: "Reserved Bits",
    4: "Opcodes",
    5: "Fragmentation",
    6: "UTF-8 Handling",
    7: "Close Handling",
    9: "Limits/Performance",
    10: "Misc",
    12: "Compression (deflate, params)",
    13: "Compression (deflate, windows)",
}
COLUMNS = ["OK", "INFORMATIONAL", "NON-STRICT", "UNIMPLEMENTED", "FAILED", "other"]
GOOD = {"OK", "INFORMATIONAL"}
COMPRESSION_GROUPS = {12, 13}


def case_key(case_id):
    try:
        return tuple(int(x) for x in case_id.split("."))
    except ValueError:
        return (10 ** 6, case_id)


def group_of(case_id):
    return case_key(case_id)[0]


def read_exclusions(path):
    out = {}
    if not path or not os.path.exists(path):
        return out
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            parts = line.split(None, 1)
            if len(parts) < 2:
                sys.exit("%s:%d: an exclusion needs a reason: `<case id> <reason>`" % (path, n))
            out[parts[0]] = parts[1].strip()
    return out


def one_line(value, limit=220):
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def case_details(outdir, entry):
    """result / resultClose from the case's own report JSON, if readable."""
    path = os.path.join(outdir, entry.get("reportfile") or "")
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError):
        return None
    return data.get("result"), data.get("resultClose")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--index", required=True)
    ap.add_argument("--agent", required=True)
    ap.add_argument("--expected", help="file with the spec's case ids, one a line")
    ap.add_argument("--exclusions")
    ap.add_argument("--role", choices=["client", "server"], default="client",
                    help="which of ours was tested: client (fuzzing server) or server (fuzzing client)")
    args = ap.parse_args()
    wstest_mode = "fuzzing server" if args.role == "client" else "fuzzing client"

    allow_unimpl = os.environ.get("AUTOBAHN_ALLOW_UNIMPLEMENTED_COMPRESSION", "0") == "1"
    exclusions = read_exclusions(args.exclusions)
    outdir = os.path.dirname(os.path.abspath(args.index))

    try:
        with open(args.index) as f:
            index = json.load(f)
    except (OSError, ValueError) as e:
        if args.role == "client":
            print("no usable %s (%s): the client never reached /updateReports" % (args.index, e))
        else:
            print("no usable %s (%s): wstest never finished its last case (it writes the reports "
                  "then)" % (args.index, e))
        print("VERDICT: FAIL (no report)")
        return 1
    results = index.get(args.agent)
    if results is None:
        print("agent %r not in %s (agents: %s)" % (args.agent, args.index, ", ".join(sorted(index)) or "none"))
        print("VERDICT: FAIL (no results for the agent)")
        return 1

    expected = []
    if args.expected and os.path.exists(args.expected):
        with open(args.expected) as f:
            expected = [line.strip() for line in f if line.strip()]
    missing = sorted(set(expected) - set(results), key=case_key)

    # --- table per group ------------------------------------------------------------
    table = {}
    for case_id, r in results.items():
        row = table.setdefault(group_of(case_id), dict.fromkeys(COLUMNS + ["close!"], 0))
        b = r.get("behavior")
        row[b if b in COLUMNS else "other"] += 1
        if r.get("behaviorClose") not in GOOD:
            row["close!"] += 1
    for case_id in missing:
        table.setdefault(group_of(case_id), dict.fromkeys(COLUMNS + ["close!"], 0))

    head = ["group", "name", "cases"] + COLUMNS + ["close!", "missing"]
    rows = []
    totals = [0] * (len(head) - 2)
    for g in sorted(table):
        row = table[g]
        n_missing = sum(1 for c in missing if group_of(c) == g)
        nums = [sum(row[c] for c in COLUMNS)] + [row[c] for c in COLUMNS] + [row["close!"], n_missing]
        totals = [a + b for a, b in zip(totals, nums)]
        rows.append([str(g), GROUPS.get(g, "?")] + [str(x) for x in nums])
    rows.append(["all", ""] + [str(x) for x in totals])
    widths = [max(len(head[i]), *(len(r[i]) for r in rows)) for i in range(len(head))]

    def fmt(cells):
        return "  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    print("Autobahn %s results for agent %s (behavior counts; close! = behaviorClose "
          "not OK/INFORMATIONAL)" % (wstest_mode, args.agent))
    print(fmt(head))
    print(fmt(["-" * w for w in widths]))
    for r in rows[:-1]:
        print(fmt(r))
    print(fmt(["-" * w for w in widths]))
    print(fmt(rows[-1]))
    print()

    # --- classify every case -----------------------------------------------------------
    non_strict, failed, excluded, unimpl_ok = [], [], [], []
    for case_id in sorted(results, key=case_key):
        r = results[case_id]
        b, bc = r.get("behavior"), r.get("behaviorClose")
        if b in GOOD and bc in GOOD:
            continue
        if case_id in exclusions:
            excluded.append((case_id, r, exclusions[case_id]))
        elif b == "UNIMPLEMENTED" and allow_unimpl and group_of(case_id) in COMPRESSION_GROUPS \
                and bc in GOOD:
            unimpl_ok.append(case_id)
        elif b == "NON-STRICT" and bc in GOOD:
            non_strict.append((case_id, r))
        else:
            failed.append((case_id, r))

    def show(title, items):
        print("%s (%d):" % (title, len(items)))
        for case_id, r in items:
            print("  %-10s behavior=%-14s behaviorClose=%-14s closeCode=%s duration=%sms" % (
                case_id, r.get("behavior"), r.get("behaviorClose"), r.get("remoteCloseCode"), r.get("duration")))
            details = case_details(outdir, r)
            if details:
                print("             result: %s" % one_line(details[0]))
                print("             resultClose: %s" % one_line(details[1]))
        print()

    if failed:
        show("FAILED cases", failed)
    if non_strict:
        show("NON-STRICT cases (count as failures)", non_strict)
    if missing:
        print("MISSING cases: in the spec but not in index.json (%d): %s" % (
            len(missing), " ".join(missing[:40]) + (" ..." if len(missing) > 40 else "")))
        print()
    if excluded:
        print("Excluded by %s (%d, not counted):" % (args.exclusions, len(excluded)))
        for case_id, r, reason in excluded:
            print("  %-10s behavior=%-14s behaviorClose=%-14s reason: %s" % (
                case_id, r.get("behavior"), r.get("behaviorClose"), reason))
        print()
    if unimpl_ok:
        print("UNIMPLEMENTED compression cases accepted (AUTOBAHN_ALLOW_UNIMPLEMENTED_COMPRESSION=1): %d "
              "(%s .. %s)" % (len(unimpl_ok), unimpl_ok[0], unimpl_ok[-1]))
        print()
    stale = sorted(set(exclusions) - set(results), key=case_key)
    if stale:
        print("note: exclusions not in this run: %s" % " ".join(stale))
        print()

    slow = sorted(results.items(), key=lambda kv: -(kv[1].get("duration") or 0))[:5]
    print("slowest cases: %s" % ", ".join("%s %sms" % (c, r.get("duration")) for c, r in slow))
    print("total case time: %.1f s" % (sum(r.get("duration") or 0 for r in results.values()) / 1000.0))
    print()

    bad = len(failed) + len(non_strict) + len(missing)
    n = len(results)
    summary = "%d cases: %d passed, %d failed, %d non-strict, %d missing, %d excluded, %d unimplemented accepted" % (
        n, n - len(failed) - len(non_strict) - len(excluded) - len(unimpl_ok),
        len(failed), len(non_strict), len(missing), len(excluded), len(unimpl_ok))
    if bad == 0 and n > 0:
        print("VERDICT: PASS (%s)" % summary)
        return 0
    print("VERDICT: FAIL (%s)" % summary)
    return 1


if __name__ == "__main__":
    sys.exit(main())
