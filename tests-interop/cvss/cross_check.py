"""Generates CVSS vectors deterministically, scores them with `sectwin cvss
--json -` and with the PyPI package `cvss`, and compares every score and
severity. See run.sh."""

import argparse
import json
import random
import subprocess
import sys
from decimal import Decimal

from cvss import CVSS3, CVSS4

V3_BASE = [("AV", "NALP"), ("AC", "LH"), ("PR", "NLH"), ("UI", "NR"),
           ("S", "UC"), ("C", "HLN"), ("I", "HLN"), ("A", "HLN")]
V3_TEMPORAL = [("E", "XHFPU"), ("RL", "XUWTO"), ("RC", "XCRU")]
V3_ENV = [("CR", "XHML"), ("IR", "XHML"), ("AR", "XHML"),
          ("MAV", "XNALP"), ("MAC", "XLH"), ("MPR", "XNLH"), ("MUI", "XNR"),
          ("MS", "XUC"), ("MC", "XHLN"), ("MI", "XHLN"), ("MA", "XHLN")]

V4_BASE = [("AV", "NALP"), ("AC", "LH"), ("AT", "NP"), ("PR", "NLH"),
           ("UI", "NPA"), ("VC", "HLN"), ("VI", "HLN"), ("VA", "HLN"),
           ("SC", "HLN"), ("SI", "HLN"), ("SA", "HLN")]
V4_THREAT = [("E", "XAPU")]
V4_ENV = [("CR", "XHML"), ("IR", "XHML"), ("AR", "XHML"), ("MAV", "XNALP"),
          ("MAC", "XLH"), ("MAT", "XNP"), ("MPR", "XNLH"), ("MUI", "XNPA"),
          ("MVC", "XHLN"), ("MVI", "XHLN"), ("MVA", "XHLN"), ("MSC", "XHLN"),
          ("MSI", ["X", "S", "H", "L", "N"]), ("MSA", ["X", "S", "H", "L", "N"])]
V4_SUPPLEMENTAL = [("S", "XNP"), ("AU", "XNY"), ("R", "XAUI"), ("V", "XDC"),
                   ("RE", "XLMH"), ("U", ["X", "Clear", "Green", "Amber", "Red"])]


def pick(rng, metrics, p_present=1.0, defined=False):
    out = []
    for name, values in metrics:
        if rng.random() < p_present:
            values = list(values)
            if defined and "X" in values and len(values) > 1:
                values.remove("X")
            out.append(f"{name}:{rng.choice(values)}")
    return out


def ensure_defined(rng, metrics, parts):
    """At least one metric of `metrics` with a value other than X."""
    names = {m for m, _ in metrics}
    if not any(p.split(":")[0] in names and not p.endswith(":X") for p in parts):
        name, values = rng.choice(metrics)
        parts = [p for p in parts if p.split(":")[0] != name]
        parts.append(f"{name}:{rng.choice([v for v in values if v != 'X'])}")
    return parts


def order(parts, table):
    rank = {m: i for i, (m, _) in enumerate(table)}
    return sorted(parts, key=lambda p: rank[p.split(":")[0]])


def generate(count, seed=20240501):
    """The mix: 17% v3.1 base, 12% v3.1 temporal, 17% v3.1 environmental,
    12% v3.0 (any groups), 13% v4.0 base, 5% threat, 10% environmental,
    14% threat + environmental (some with supplemental metrics)."""
    rng = random.Random(seed)
    v3_table = V3_BASE + V3_TEMPORAL + V3_ENV
    v4_table = V4_BASE + V4_THREAT + V4_ENV + V4_SUPPLEMENTAL
    shares = [("3.1b", 17), ("3.1t", 12), ("3.1e", 17), ("3.0", 12),
              ("4.0b", 13), ("4.0t", 5), ("4.0e", 10), ("4.0te", 14)]
    total = sum(s for _, s in shares)
    vectors = []
    for kind, share in shares:
        n = count * share // total
        if kind == shares[-1][0]:
            n = count - len(vectors)
        for _ in range(n):
            if kind.startswith("3"):
                version = "3.0" if kind == "3.0" else "3.1"
                parts = pick(rng, V3_BASE)
                if kind in ("3.1t", "3.1e") or (kind == "3.0" and rng.random() < 0.5):
                    t = pick(rng, V3_TEMPORAL, 0.7)
                    parts += ensure_defined(rng, V3_TEMPORAL, t) if kind == "3.1t" else t
                if kind == "3.1e" or (kind == "3.0" and rng.random() < 0.5):
                    parts += ensure_defined(rng, V3_ENV, pick(rng, V3_ENV, 0.6))
                vectors.append(f"CVSS:{version}/" + "/".join(order(parts, v3_table)))
            else:
                parts = pick(rng, V4_BASE)
                if "t" in kind[3:]:
                    parts += pick(rng, V4_THREAT, 1.0, defined=True)
                if "e" in kind[3:]:
                    parts += ensure_defined(rng, V4_ENV, pick(rng, V4_ENV, 0.5))
                if rng.random() < 0.1:
                    parts += pick(rng, V4_SUPPLEMENTAL, 0.5)
                vectors.append("CVSS:4.0/" + "/".join(order(parts, v4_table)))
    return vectors


def v4_base_only(vector):
    names = {m for m, _ in V4_BASE}
    parts = vector.split("/")
    return "/".join([parts[0]] + [p for p in parts[1:] if p.split(":")[0] in names])


def reference(vector):
    """{field: value} as computed by the Python package."""
    if vector.startswith("CVSS:3"):
        c = CVSS3(vector)
        base, temporal, env = c.scores()
        sev = c.severities()
        defined = {p.split(":")[0] for p in vector.split("/")[1:] if not p.endswith(":X")}
        if defined & {m for m, _ in V3_ENV}:
            score, severity = env, sev[2]
        elif defined & {m for m, _ in V3_TEMPORAL}:
            score, severity = temporal, sev[1]
        else:
            score, severity = base, sev[0]
        return {"base_score": Decimal(str(base)), "base_severity": sev[0],
                "temporal_score": Decimal(str(temporal)), "environmental_score": Decimal(str(env)),
                "score": Decimal(str(score)), "severity": severity}
    full = CVSS4(vector)
    base = CVSS4(v4_base_only(vector))
    return {"base_score": Decimal(str(base.base_score)), "base_severity": base.severity,
            "score": Decimal(str(full.base_score)), "severity": full.severity}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sectwin", required=True)
    ap.add_argument("--count", type=int, default=120000)
    args = ap.parse_args()
    vectors = generate(args.count)
    assert len(vectors) == args.count, len(vectors)
    proc = subprocess.run([args.sectwin, "cvss", "--json", "-"],
                          input="\n".join(vectors) + "\n", capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        sys.exit(f"sectwin cvss exited with {proc.returncode}")
    ours = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(ours) == len(vectors), (len(ours), len(vectors))
    agreed = {"3.0": 0, "3.1": 0, "4.0": 0}
    disagreements = []
    for vector, mine in zip(vectors, ours):
        assert mine["vector"] == vector, (mine["vector"], vector)
        ref = reference(vector)
        diffs = []
        for field, expected in ref.items():
            got = mine.get(field)
            if isinstance(expected, Decimal):
                same = got is not None and Decimal(str(got)) == expected
            else:
                same = got == expected
            if not same:
                diffs.append(f"{field}: sectwin {got}, cvss.py {expected}")
        if diffs:
            disagreements.append((vector, diffs))
        else:
            agreed[vector[5:8]] += 1
    total = sum(agreed.values())
    print(f"agreed {total} of {len(vectors)} vectors "
          f"(v3.0: {agreed['3.0']}, v3.1: {agreed['3.1']}, v4.0: {agreed['4.0']})")
    for vector, diffs in disagreements[:10]:
        print(f"  {vector}: {'; '.join(diffs)}")
    sys.exit(1 if disagreements else 0)


if __name__ == "__main__":
    main()
