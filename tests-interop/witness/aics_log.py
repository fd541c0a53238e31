"""An independent C2SP log + witness client (aics-tlog / aics-witness from PyPI)
driven against OUR witness server.

What it does: builds an RFC 6962 tree with aics_tlog.MerkleTree, signs
checkpoints with an aics_tlog Ed25519 note key, and submits them with
aics_witness.feeder.WitnessClient (their tlog-witness client, which verifies
every cosignature line it gets back against the witness vkey). It then
submits a fork and expects the witness to refuse it.

What it deliberately does not do: it imports nothing from sectwin; every
byte it sends or checks is produced by the other implementation. It is a
test driver, not a library: the Rust test that spawns it asserts on its exit
status and its JSON output.

Usage:
  aics_log.py vkey --origin O --seed HEX
  aics_log.py feed --origin O --seed HEX --witness-url URL --witness-vkey VKEY --state DIR
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from aics_tlog import Checkpoint, MerkleTree, format_vkey, parse_note, parse_vkey, sign_checkpoint, vkey_from_ed25519
from aics_tlog.checkpoint import verify_checkpoint
from aics_witness.feeder import WitnessClient, WitnessRejected, merge_cosignatures
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

# The sizes the log publishes, in order: a first checkpoint from the empty
# tree, growth, a resubmission of the same size, and more growth.
PUBLISHED_SIZES = [1, 5, 5, 13]
FORK_SIZE = 14


def log_key(seed_hex: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(bytes.fromhex(seed_hex))


def log_vkey(origin: str, seed_hex: str) -> str:
    return format_vkey(vkey_from_ed25519(origin, log_key(seed_hex).public_key()))


def signed_checkpoint(origin: str, key: Ed25519PrivateKey, tree: MerkleTree, size: int) -> bytes:
    cp = Checkpoint(origin=origin, size=size, root=tree.root(size))
    return sign_checkpoint(cp, key, origin).to_bytes()


def feed(args: argparse.Namespace) -> int:
    key = log_key(args.seed)
    tree = MerkleTree(f"leaf-{i}".encode() for i in range(FORK_SIZE))
    client = WitnessClient(args.witness_url, args.witness_vkey,
                           state_path=Path(args.state) / "aics-client-state.json")
    result: dict = {"cosigned": [], "verified_with_aics_tlog": [], "fork": None}
    for size in PUBLISHED_SIZES:
        note = signed_checkpoint(args.origin, key, tree, size)
        lines = client.submit(note, tree.consistency_proof)
        merged = merge_cosignatures(note, lines)
        # Verify the whole cosigned checkpoint with their verifier too: log key
        # and our witness key, quorum 1, fresh within a minute.
        verdict = verify_checkpoint(
            parse_note(merged),
            parse_vkey(log_vkey(args.origin, args.seed)),
            [parse_vkey(args.witness_vkey)],
            quorum=1,
            expected_origin=args.origin,
            max_age_seconds=60,
        )
        if not verdict.ok:
            print(f"aics_tlog.verify_checkpoint rejected size {size}: {verdict.error}", file=sys.stderr)
            return 1
        result["cosigned"].append({"size": size, "lines": lines})
        result["verified_with_aics_tlog"].append(size)

    # A fork: same size prefix, different leaves. The witness has cosigned
    # size 13 of the real tree, so it must refuse (422) and not cosign.
    fork = MerkleTree(f"forked-{i}".encode() for i in range(FORK_SIZE))
    note = signed_checkpoint(args.origin, key, fork, FORK_SIZE)
    try:
        lines = client.submit(note, fork.consistency_proof)
        result["fork"] = {"cosigned": True, "lines": lines}
        print(json.dumps(result))
        return 1
    except WitnessRejected as e:
        result["fork"] = {"cosigned": False, "status": e.status}
    print(json.dumps(result))
    return 0 if result["fork"]["status"] == 422 else 1


def main() -> int:
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    v = sub.add_parser("vkey")
    v.add_argument("--origin", required=True)
    v.add_argument("--seed", required=True)
    f = sub.add_parser("feed")
    f.add_argument("--origin", required=True)
    f.add_argument("--seed", required=True)
    f.add_argument("--witness-url", required=True)
    f.add_argument("--witness-vkey", required=True)
    f.add_argument("--state", required=True)
    args = p.parse_args()
    if args.cmd == "vkey":
        print(log_vkey(args.origin, args.seed))
        return 0
    return feed(args)


if __name__ == "__main__":
    sys.exit(main())
