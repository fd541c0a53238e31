#!/usr/bin/env python3
"""Independent truth for Linux kernel CVE records (issue 14, item 2).

For each kernel version given, lists the CVE records assigned by the Linux
CNA whose own data says that version is affected. Written from the kernel
CNA's documented conventions, not from sectwin's matcher:

* a record's `affected[]` has a block of git commit ranges (`versionType:
  git`), which says nothing about a release version and is skipped, and a
  block of release versions with `defaultStatus`;
* in the release block, `{"status": "affected", "version": A}` names the
  release that introduced the bug; `unaffected` from `0` to below A is the
  time before it;
* `{"status": "unaffected", "version": F, "lessThanOrEqual": "X.Y.*"}` is
  the stable branch X.Y fixed at F: a release of branch X.Y at or above F is
  not affected;
* `{"status": "unaffected", "version": M, "lessThanOrEqual": "*"}`
  (`original_commit_for_fix`) is the mainline release with the fix: every
  release from M on is not affected;
* `{"status": "affected", "version": A, "lessThan": B}` (blocks with
  `defaultStatus: unaffected`) is an affected interval;
* with `defaultStatus: affected`, any release no entry excludes is affected.

Versions are compared as tuples of integers (kernel releases are
MAJOR.MINOR[.PATCH]); a release's branch is its first two numbers. A
git-describe name of a mainline commit (`v6.9-rc1~118`) orders as the
release it leads to (6.9).

Usage: truth.py DUMP.jsonl.gz VERSION... > truth.json
Prints {"VERSION": ["CVE-...", ...], ...}.
"""

import gzip
import json
import sys


def parse(v):
    # Git-describe names of mainline commits ("v6.9-rc1~118": before 6.9)
    # order as the release they lead to.
    v = v.strip()
    if v.startswith("v"):
        v = v[1:]
    for cut in ("-", "~"):
        v = v.split(cut)[0]
    out = []
    for part in v.split("."):
        if not part.isdigit():
            return None
        out.append(int(part))
    while len(out) > 1 and out[-1] == 0:
        out.pop()
    return tuple(out)


def branch(v):
    return tuple(v[:2]) if len(v) >= 2 else (v[0], 0)


def affected(block, release):
    """True, False, or None when the block says nothing about releases."""
    versions = [
        v for v in block.get("versions", []) if v.get("versionType") != "git"
    ]
    if not versions:
        return None
    default = block.get("defaultStatus", "unknown")
    explicit_affected = False
    for v in versions:
        start = v.get("version", "")
        status = v.get("status")
        lte = v.get("lessThanOrEqual")
        lt = v.get("lessThan")
        if status == "unaffected":
            if lte is not None and lte.endswith(".*") and lte != "*":
                fixed = parse(start)
                series = parse(lte[:-2])
                if fixed is not None and series is not None:
                    if branch(release) == branch(series) and release >= fixed:
                        return False
            elif lte == "*":
                fixed = parse(start)
                if fixed is not None and release >= fixed:
                    return False
            elif lt is not None:
                low = () if start in ("0", "") else parse(start)
                high = parse(lt)
                if low is not None and high is not None and low <= release < high:
                    return False
        elif status == "affected":
            if lt is not None:
                low = () if start in ("0", "") else parse(start)
                high = parse(lt)
                if low is not None and high is not None and low <= release < high:
                    explicit_affected = True
            elif lte is None:
                introduced = parse(start)
                if introduced is not None and release < introduced:
                    return False
    if explicit_affected:
        return True
    return default == "affected"


def main():
    dump = sys.argv[1]
    releases = {v: parse(v) for v in sys.argv[2:]}
    truth = {v: [] for v in releases}
    with gzip.open(dump, "rt") as f:
        for line in f:
            record = json.loads(line)
            meta = record.get("cveMetadata", {})
            if meta.get("assignerShortName") != "Linux" or meta.get("state") != "PUBLISHED":
                continue
            blocks = record["containers"]["cna"].get("affected", [])
            for name, release in releases.items():
                answers = [affected(b, release) for b in blocks]
                if any(a is True for a in answers):
                    truth[name].append(meta["cveId"])
    json.dump({k: sorted(v) for k, v in truth.items()}, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
