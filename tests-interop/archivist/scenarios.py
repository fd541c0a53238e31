"""Scenarios with the official DataTrails SDK, unchanged, against sectwin.

Run by run.sh, which starts the server and exports SECTWIN_URL and the
stakeholders' client credentials. Every check is an assert; the script
prints one line per scenario and exits non-zero on the first failure.
"""

import io
import json
import os
import urllib.request

from archivist.archivist import Archivist
from archivist.errors import (
    ArchivistBadRequestError,
    ArchivistNotFoundError,
    ArchivistUnauthenticatedError,
)

URL = os.environ["SECTWIN_URL"]
fac = Archivist(URL, (os.environ["FAC_ID"], os.environ["FAC_SECRET"]), max_time=30)
chg = Archivist(URL, (os.environ["CHG_ID"], os.environ["CHG_SECRET"]), max_time=30)
mnt = Archivist(URL, (os.environ["MNT_ID"], os.environ["MNT_SECRET"]), max_time=30)


def ok(name):
    print(f"ok  {name}")


def api(path, token=None):
    req = urllib.request.Request(URL + path)
    if token:
        req.add_header("Authorization", "Bearer " + token)
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read())


# --- tokens ---------------------------------------------------------------
tok = fac.appidp.token(os.environ["FAC_ID"], os.environ["FAC_SECRET"])
assert tok["access_token"] and tok["expires_in"] > 0, tok
try:
    fac.appidp.token(os.environ["FAC_ID"], "wrong-secret")
    raise AssertionError("a wrong secret got a token")
except ArchivistUnauthenticatedError:
    pass
bad = Archivist(URL, "not-a-token")
try:
    bad.assets.count()
    raise AssertionError("a bad token was accepted")
except ArchivistUnauthenticatedError:
    pass
ok("tokens: client credentials, wrong secret -> 401, bad token -> 401")

# --- building: door controllers and access cards ---------------------------
doors = []
for i in range(12):
    doors.append(
        fac.assets.create(
            attrs={
                "arc_display_name": f"Door {i}",
                "arc_display_type": "door",
                "arc_manufacturer": "Facilities Co",
                "arc_model": "DC-200",
                "arc_serial_number": f"DC200-{i:04}",
                "floor": str(i % 3),
                "arc_home_location_identity": "locations/hq",
            },
            confirm=True,
        )
    )
cards = [
    fac.assets.create(
        attrs={"arc_display_name": f"Card {i}", "arc_display_type": "access_card", "holder": f"staff-{i}"},
        confirm=True,
    )
    for i in range(3)
]
d0 = doors[0]
assert d0["identity"].startswith("assets/"), d0
assert d0["confirmation_status"] == "CONFIRMED", d0
again = fac.assets.read(d0["identity"])
assert again["attributes"]["arc_display_name"] == "Door 0", again
assert fac.assets.count(attrs={"arc_display_type": "door"}) == 12
assert fac.assets.count(attrs={"arc_display_type": "door", "floor": "1"}) == 4
paged = list(fac.assets.list(attrs={"arc_display_type": "door"}, page_size=5))
assert len(paged) == 12 and len({a["identity"] for a in paged}) == 12, len(paged)
sig = fac.assets.read_by_signature(attrs={"arc_serial_number": "DC200-0003"})
assert sig["attributes"]["arc_display_name"] == "Door 3"
# The bracket form of attribute filters, as curl users write it.
raw = fac.get(f"{fac.root}/v2/assets", params={"attributes[arc_display_type]": "access_card"})
assert len(raw["assets"]) == 3, raw
ok("assets: create (12 doors, 3 cards), read, count, filter, page_size=5 paging, read_by_signature, attributes[k]")

# Photos as blobs, 16 MB included.
photo = bytes(range(256)) * 4096  # 1 MiB
big = os.urandom(16 * 1024 * 1024)
up = fac.attachments.upload(io.BytesIO(photo), mtype="image/jpeg")
assert up["identity"].startswith("blobs/") and up["hash"]["alg"] == "SHA256", up
import hashlib

assert up["hash"]["value"] == hashlib.sha256(photo).hexdigest()
big_up = fac.attachments.upload(io.BytesIO(big), mtype="application/octet-stream")
out = io.BytesIO()
fac.attachments.download(big_up["identity"], out)
assert out.getvalue() == big, "16 MB blob round trip"
info = fac.attachments.info(up["identity"])
assert info["size"] == len(photo)
ok("blobs: upload (1 MiB photo, 16 MiB), SHA-256 hash, download identical, info")

for i, door in enumerate(doors[:4]):
    for n in range(3):
        fac.events.create(
            door["identity"],
            props={"operation": "Record", "behaviour": "RecordEvidence"},
            attrs={
                "arc_description": "door opened",
                "arc_display_type": "door_open",
                "card": cards[n % 3]["identity"],
                "photo": {
                    "arc_attribute_type": "arc_attachment",
                    "arc_blob_identity": up["identity"],
                    "arc_blob_hash_alg": "SHA256",
                    "arc_blob_hash_value": up["hash"]["value"],
                },
            },
            asset_attrs={"state": "open" if n % 2 == 0 else "closed", "last_card": cards[n % 3]["identity"]},
            confirm=True,
        )
door0 = fac.assets.read(d0["identity"])
assert door0["attributes"]["state"] == "open", door0["attributes"]  # last of n=0,1,2
evs = list(fac.events.list(asset_id=d0["identity"], attrs={"arc_display_type": "door_open"}))
assert len(evs) == 3, evs
e = evs[0]
assert e["confirmation_status"] == "CONFIRMED" and e["principal_accepted"]["subject"] == "facilities.example", e
assert e["signed_by_service"] is True and e["sectwin"]["signed_by"], e
assert fac.events.count(attrs={"arc_display_type": "door_open"}) == 12  # /assets/-/events
assert fac.events.count(asset_id=d0["identity"]) == 4  # NewAsset + 3
allev = list(fac.events.list(attrs={"arc_display_type": "door_open"}, page_size=5))
assert len(allev) == 12 and len({x["identity"] for x in allev}) == 12
one = fac.events.read(e["identity"])
assert one["event_attributes"]["photo"]["arc_blob_identity"] == up["identity"]
by_card = list(fac.events.list(attrs={"card": cards[1]["identity"]}))
assert len(by_card) == 4, len(by_card)
assert fac.events.count(asset_attrs={"state": "closed"}) == 4
ok("events: door-open events with photos, asset attributes updated, filters, /assets/-/events, paging, counts")

# --- errors ----------------------------------------------------------------
try:
    fac.assets.read("assets/00000000-0000-4000-8000-000000000000")
    raise AssertionError("unknown asset read")
except ArchivistNotFoundError:
    pass
try:
    fac.events.create("assets/00000000-0000-4000-8000-000000000000", props={"operation": "Record", "behaviour": "RecordEvidence"}, attrs={"x": "y"})
    raise AssertionError("event on unknown asset")
except ArchivistNotFoundError:
    pass
try:
    fac.post(f"{fac.root}/v2/assets", {"attributes": "not an object"})
    raise AssertionError("malformed asset")
except ArchivistBadRequestError as ex:
    assert "attributes must be an object" in str(ex), ex
try:
    fac.events.create(d0["identity"], props={"behaviour": "RecordEvidence"}, attrs={"x": "y"})
    raise AssertionError("event without operation")
except ArchivistBadRequestError as ex:
    assert "operation" in str(ex), ex
try:
    list(fac.assets.list(props={"colour": "red"}))
    raise AssertionError("unknown filter")
except ArchivistBadRequestError:
    pass
ok("errors: unknown asset -> 404, malformed body -> 400, missing operation -> 400, unknown filter -> 400")

# --- sharing: the maintainer sees nothing until an access policy says so ---
assert mnt.assets.count() == 0
try:
    mnt.assets.read(d0["identity"])
    raise AssertionError("maintainer read an unshared asset")
except ArchivistNotFoundError:
    pass
loc = fac.post(f"{fac.root}/v2/locations", {"display_name": "HQ", "description": "head office", "attributes": {"address": "1 Main St"}})
assert loc["identity"].startswith("locations/")
assert fac.get(f"{fac.root}/v2/{loc['identity']}")["display_name"] == "HQ"
subject = fac.subjects.create("maint.example", ["wallet"], ["tessera"])
policy = fac.access_policies.create(
    {"display_name": "Maintenance reads floor 1 doors", "description": "contract 42"},
    [{"or": ["attributes.arc_display_type=door"]}, {"or": ["attributes.floor=1"]}],
    [{"subjects": [subject["identity"]], "behaviours": ["RecordEvidence"], "include_attributes": ["arc_display_name", "state"]}],
)
assert fac.access_policies.read(policy["identity"])["display_name"].startswith("Maintenance")
assert fac.access_policies.count() == 1
matching = list(fac.access_policies.list_matching_assets(policy["identity"]))
assert len(matching) == 4, len(matching)
assert len(list(fac.access_policies.list_matching_access_policies(doors[1]["identity"]))) == 1
assert mnt.assets.count() == 4, mnt.assets.count()
assert mnt.assets.read(doors[1]["identity"])["attributes"]["floor"] == "1"
ok("locations, subjects, access policies: published as the owner's sharing policy; the maintainer reads exactly the 4 matching doors")

# --- public assets ---------------------------------------------------------
lobby = fac.assets.create(props={"public": True}, attrs={"arc_display_name": "Lobby door", "arc_display_type": "door"}, confirm=True)
fac.events.create(lobby["identity"], props={"operation": "Record", "behaviour": "RecordEvidence"}, attrs={"arc_description": "opened for visitors"}, confirm=True)
url = fac.assets.publicurl(lobby["identity"])
pub = fac.Public
assert pub.assets.read(url)["attributes"]["arc_display_name"] == "Lobby door"
pevs = list(pub.events.list(asset_id=url))
assert len(pevs) == 2, pevs
try:
    pub.assets.read(url.replace(lobby["identity"].split("/")[1], d0["identity"].split("/")[1]))
    raise AssertionError("a private asset was public")
except ArchivistNotFoundError:
    pass
ok("public assets: publicurl, read and events without a token; private assets stay private")

# --- chargers: CVE, patch, maintenance, firmware update --------------------
chargers = [
    chg.assets.create(attrs={"arc_display_name": f"Charger {i}", "arc_display_type": "ev_charger", "arc_firmware_version": "1.4.2", "site": "depot"}, confirm=True)
    for i in range(5)
]
for c in chargers:
    chg.events.create(c["identity"], props={"operation": "Record", "behaviour": "RecordEvidence"},
                      attrs={"arc_display_type": "vulnerability_report", "cve": "CVE-2024-12345", "cvss": "9.8"},
                      asset_attrs={"vulnerable": "CVE-2024-12345"}, confirm=True)
patch = chg.attachments.upload(io.BytesIO(b"firmware image 1.4.3" * 1000), mtype="application/octet-stream")
for c in chargers:
    chg.events.create(c["identity"], props={"operation": "Record", "behaviour": "RecordEvidence"},
                      attrs={"arc_display_type": "patch", "patch": patch["identity"], "patch_sha256": patch["hash"]["value"]}, confirm=True)
    chg.events.create_from_data(
        c["identity"],
        {"operation": "Record", "behaviour": "RecordEvidence",
         "event_attributes": {"arc_display_type": "maintenance", "work": "cable inspection"},
         "principal_declared": {"issuer": "idp.chargeco.example", "subject": "tech-7", "display_name": "Technician 7"},
         "timestamp_declared": "2025-05-01T10:00:00Z"},
        confirm=True,
    )
    chg.events.create(c["identity"], props={"operation": "Record", "behaviour": "RecordEvidence"},
                      attrs={"arc_display_type": "firmware_update", "version": "1.4.3"},
                      asset_attrs={"arc_firmware_version": "1.4.3", "vulnerable": "none"}, confirm=True)
assert chg.assets.count(attrs={"arc_firmware_version": "1.4.3", "vulnerable": "none"}) == 5
assert chg.events.count(attrs={"cve": "CVE-2024-12345"}) == 5
m = list(chg.events.list(asset_id=chargers[0]["identity"], attrs={"arc_display_type": "maintenance"}))
assert m[0]["principal_declared"]["display_name"] == "Technician 7" and m[0]["timestamp_declared"] == "2025-05-01T10:00:00Z", m
assert fac.assets.count(attrs={"arc_display_type": "ev_charger"}) == 0  # ChargeCo's data
ok("chargers: CVE reported, patch (blob), maintenance with principal_declared, firmware update; other orgs see nothing")

# --- the twins and the log -------------------------------------------------
token = fac.auth
dev = d0["identity"].split("/")[1]
view = api(f"/api/v1/devices/{dev}", token)
assert view["twin"]["manufacturer"] == "facilities.example", view
attrs = [a["claim"] for a in view["attributes"]]
assert any(c["statement"]["type"] == "archivist-event" for c in attrs), attrs
timeline = api(f"/api/v1/devices/{dev}/timeline", token)
types = [i["type"] for i in timeline["entries"]]
assert types.count("archivist-event") == 4 and "device-registered" in types, timeline
entry = e["sectwin"]["entry"]
st = api(f"/api/v1/statements/{entry}", token)
assert st["signed_by"] and st["issuer"] == "facilities.example", st
receipt = urllib.request.urlopen(URL + f"/entries/{entry}").read()
assert len(receipt) > 100
ok("twins: assets are twins, events are archivist-event statements signed by the service on behalf of facilities.example, with receipts")
print("all Archivist SDK scenarios passed")
