"""Independent SCITT peer for sectwin's interop tests: the PyPI package
scitt-cose (its own COSE_Sign1, RFC 9162 Merkle and receipt code, over cbor2
and cryptography) signs Signed Statements and verifies sectwin's receipts.

  keygen --alg EdDSA|ES256 --out KEY.pem          prints the public key PEM
  sign --key KEY.pem --alg A --kid HEX --issuer I --subject S --payload F --out F
  verify-statement --statement F --pem PUB.pem     exit 0 iff the signature verifies
  verify-receipt --receipt F --statement F --pem SERVICE.pem
                                                   exit 0 iff the receipt proves inclusion
"""
import argparse
import sys
import time

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

import scitt_cose


def keygen(args):
    if args.alg == "EdDSA":
        key = ed25519.Ed25519PrivateKey.generate()
    else:
        key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with open(args.out, "wb") as f:
        f.write(pem)
    sys.stdout.write(
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return 0


def sign(args):
    with open(args.key, "rb") as f:
        pem = f.read()
    with open(args.payload, "rb") as f:
        payload = f.read()
    msg = scitt_cose.build_signed_statement(
        payload,
        alg=args.alg,
        private_key_pem=pem,
        issuer=args.issuer,
        subject=args.subject,
        content_type="application/json",
        # CWT iat (6): sectwin registers statements only within a window
        # around its clock.
        extra_cwt_claims={6: int(time.time())},
        kid=bytes.fromhex(args.kid),
    )
    with open(args.out, "wb") as f:
        f.write(msg)
    return 0


def verify_statement(args):
    with open(args.statement, "rb") as f:
        msg = f.read()
    with open(args.pem, "rb") as f:
        pem = f.read()
    result = scitt_cose.parse_signed_statement(msg, public_key_pem=pem)
    if result.get("signature_verified") is True:
        print("statement verified:", result.get("issuer"), result.get("subject"))
        return 0
    print("statement NOT verified:", result, file=sys.stderr)
    return 1


def verify_receipt(args):
    with open(args.receipt, "rb") as f:
        receipt = f.read()
    with open(args.statement, "rb") as f:
        statement = f.read()
    with open(args.pem, "rb") as f:
        pem = f.read()
    result = scitt_cose.verify_receipt(receipt, leaf_entry_hex=statement.hex(), log_public_key_pem=pem)
    if result.ok:
        print(f"receipt verified: leaf {result.leaf_index} of {result.tree_size}")
        return 0
    print("receipt NOT verified:", result.errors, file=sys.stderr)
    return 1


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    k = sub.add_parser("keygen")
    k.add_argument("--alg", required=True)
    k.add_argument("--out", required=True)
    s = sub.add_parser("sign")
    for a in ("--key", "--alg", "--kid", "--issuer", "--subject", "--payload", "--out"):
        s.add_argument(a, required=True)
    v = sub.add_parser("verify-statement")
    v.add_argument("--statement", required=True)
    v.add_argument("--pem", required=True)
    r = sub.add_parser("verify-receipt")
    for a in ("--receipt", "--statement", "--pem"):
        r.add_argument(a, required=True)
    args = p.parse_args()
    return {"keygen": keygen, "sign": sign, "verify-statement": verify_statement, "verify-receipt": verify_receipt}[
        args.cmd
    ](args)


if __name__ == "__main__":
    sys.exit(main())
