#!/usr/bin/env python3
"""A small IoT threat model written for sectwin's importer tests (our own
script, not pytm's sample): 8 elements, 3 boundaries, 11 data flows, the size
of pytm's own sample. Run with pytm 1.4.0: `python3 tm.py --json tm.json`."""

from pytm import TM, Actor, Boundary, Classification, Data, Dataflow, Datastore, Lambda, Process, Server

tm = TM("Smart thermostat")
tm.description = "A connected thermostat, its hub, a mobile app and a cloud backend."
tm.isOrdered = True

home = Boundary("Home network")
cloud = Boundary("Vendor cloud")
internet = Boundary("Internet")

owner = Actor("Home owner")
owner.inBoundary = internet
thermostat = Process("Thermostat firmware")
thermostat.inBoundary = home
hub = Server("Home hub")
hub.inBoundary = home
hub.OS = "Linux"
app = Process("Mobile app")
app.inBoundary = internet
api = Server("Cloud API")
api.inBoundary = cloud
api.isHardened = True
db = Datastore("Telemetry database")
db.inBoundary = cloud
db.isEncrypted = True
db.maxClassification = Classification.SENSITIVE
updates = Server("Firmware update server")
updates.inBoundary = cloud
analytics = Lambda("Usage analytics")
analytics.inBoundary = cloud

telemetry = Data("Temperature readings", classification=Classification.SENSITIVE)
setpoint = Data("Set point commands", classification=Classification.RESTRICTED)
firmware = Data("Firmware image", classification=Classification.PUBLIC)
creds = Data("Owner credentials", classification=Classification.SECRET)


# pytm 1.4.0 copies protocol, port and encryption of a flow from its sink
# element (`_apply_forward_defaults`), so they are set on the elements.
for element, protocol, port, encrypted in [
    (thermostat, "Zigbee", 0, True),
    (hub, "MQTT", 8883, True),
    (app, "UI", 0, False),
    (api, "HTTPS", 443, True),
    (db, "PostgreSQL", 5432, False),
]:
    element.protocol = protocol
    element.port = port
    element.controls.isEncrypted = encrypted


def flow(src, dst, name, data):
    f = Dataflow(src, dst, name)
    f.data = data
    return f


flow(thermostat, hub, "Readings to hub", telemetry)
flow(hub, thermostat, "Set point to thermostat", setpoint)
flow(hub, api, "Telemetry upload", telemetry)
flow(api, hub, "Commands to hub", setpoint)
flow(owner, app, "Owner logs in", creds)
flow(app, api, "App calls API", creds)
flow(api, app, "API answers app", telemetry)
flow(api, db, "Store telemetry", telemetry)
flow(analytics, db, "Read telemetry", telemetry)
flow(updates, hub, "Firmware download", firmware)
flow(hub, thermostat, "Firmware to thermostat", firmware)

if __name__ == "__main__":
    tm.process()
