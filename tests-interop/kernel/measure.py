#!/usr/bin/env python3
"""Precision and recall of sectwin's matching of Linux kernel releases
against the Linux CNA's CVE records (issue 14, item 2), measured against the
independent truth of truth.py.

Imports the CVE dump into a fresh data directory with `sectwin vuln import`,
writes one CycloneDX SBOM per kernel release (a component with the CPE
cpe:2.3:o:linux:linux_kernel:VERSION, as an SBOM of a device names its
kernel), runs `sectwin vuln match --json` on them, and compares the CVE ids
matched (records assigned by the Linux CNA only) with truth.py's.

Usage: measure.py SECTWIN DUMP.jsonl.gz [VERSION...]
Prints a table; exits 1 if precision or recall is below 0.95.
"""

import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_RELEASES = ["6.1.80", "5.15.100", "6.1.90", "5.10.200", "6.6.30", "4.19.300"]
THRESHOLD = 0.95


def linux_ids(dump):
    import gzip

    ids = set()
    with gzip.open(dump, "rt") as f:
        for line in f:
            r = json.loads(line)
            meta = r.get("cveMetadata", {})
            if meta.get("assignerShortName") == "Linux":
                ids.add(meta["cveId"])
    return ids


def sbom(version):
    return {
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "version": 1,
        "components": [
            {
                "type": "operating-system",
                "name": "linux",
                "version": version,
                "cpe": f"cpe:2.3:o:linux:linux_kernel:{version}:*:*:*:*:*:*:*",
            }
        ],
    }


def main():
    sectwin, dump = sys.argv[1], sys.argv[2]
    releases = sys.argv[3:] or DEFAULT_RELEASES
    truth = json.loads(
        subprocess.run(
            [sys.executable, os.path.join(HERE, "truth.py"), dump, *releases],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    kernel = linux_ids(dump)
    # A dump without kernel records would pass vacuously (precision and
    # recall of nothing are 1): refuse it.
    empty = [v for v in releases if not truth[v]]
    if not kernel or empty:
        sys.exit(f"kernel: nothing to measure in {dump}: {len(kernel)} Linux CNA records, no truth for {empty}")
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "data")
        subprocess.run(
            [sectwin, "vuln", "import", "--data", data, "--quiet", dump],
            check=False,
            capture_output=True,
        )
        paths = []
        for v in releases:
            p = os.path.join(tmp, f"linux-{v}.cdx.json")
            with open(p, "w") as f:
                json.dump(sbom(v), f)
            paths.append(p)
        out = subprocess.run(
            [sectwin, "vuln", "match", "--data", data, "--json", *paths],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    found = {v: set() for v in releases}
    for line in out.splitlines():
        m = json.loads(line)
        v = os.path.basename(m["sbom"])[len("linux-") : -len(".cdx.json")]
        if m["vulnerability"] in kernel:
            found[v].add(m["vulnerability"])
    ok = True
    print(f"{'release':<10} {'truth':>6} {'matched':>8} {'tp':>6} {'fp':>5} {'fn':>5} {'precision':>10} {'recall':>7}")
    for v in releases:
        t = set(truth[v])
        f = found[v]
        tp = len(t & f)
        precision = tp / len(f) if f else 1.0
        recall = tp / len(t) if t else 1.0
        ok &= precision >= THRESHOLD and recall >= THRESHOLD
        print(f"{v:<10} {len(t):>6} {len(f):>8} {tp:>6} {len(f - t):>5} {len(t - f):>5} {precision:>10.4f} {recall:>7.4f}")
        for cve in sorted(f - t)[:3]:
            print(f"  false positive: {cve}")
        for cve in sorted(t - f)[:3]:
            print(f"  missed: {cve}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
