"""A hostile home network: a device that tries other devices' topics is never offered them in one
click. Proposals cover only a device's own prefix, never a shared root nor a prefix another device
has rules for; a learned topic that is another device's says whose it is."""

from mqtt_device import Device


def tried(device, *topics):
    for topic in topics:
        r = device.pub(topic, "x", qos=1)
        assert r.returncode == 0, r.stderr


def proposed(view):
    return sorted((r["direction"], r["pattern"]) for s in view["suggestions"] for r in s["rules"])


def test_a_device_trying_other_devices_topics_is_not_offered_them(hub):
    front_door = Device(hub, "Front door", publish=["tele/frontdoor/#", "stat/frontdoor/#"], subscribe=["cmnd/frontdoor/#"])
    intruder = Device(hub, "Cheap plug")
    # The attacker's review: these three earned `publish cmnd/#`, `publish homeassistant/#` and
    # `subscribe cmnd/frontdoor/#`, each one click away.
    tried(intruder, "cmnd/status", "homeassistant/status", "tele/frontdoor/LWT")
    view = intruder.view()
    learned = {r["pattern"]: r for r in view["rules"] if r["status"] == "learned"}
    assert set(learned) == {"cmnd/status", "homeassistant/status", "tele/frontdoor/LWT"}, "the tries are on record"
    assert proposed(view) == [], view["suggestions"]
    concern = learned["tele/frontdoor/LWT"]["concerns"]
    assert (concern["device_id"], concern["name"], concern["owned"]) == (front_door.id, "Front door", True)
    assert learned["cmnd/status"]["concerns"] is None
    assert "Front door's topic" in hub.cli("device", "topics", intruder.id).stdout
    # A positive control: a real Tasmota plug trying its own topics is offered its own prefix.
    plug = Device(hub, "Kitchen plug")
    tried(plug, "tele/tasmota_A1B2C3/STATE", "stat/tasmota_A1B2C3/POWER")
    assert proposed(plug.view()) == [("publish", "stat/tasmota_A1B2C3/#"), ("publish", "tele/tasmota_A1B2C3/#"),
                                     ("subscribe", "cmnd/tasmota_A1B2C3/#")]
