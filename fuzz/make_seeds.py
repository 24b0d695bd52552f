#!/usr/bin/env python3
"""Writes the seed corpus fuzz/seeds/<target>/ from the real examples of
shared/reference/devices.md and of hearth-core's unit tests, in each target's input layout
(see hearth_core::fuzz_checks and fuzz/README.md). Run it again after changing a layout;
crash files the fuzzers found (crash-*) are kept, not rewritten."""
import gzip, os, pathlib, struct, zlib

ROOT = pathlib.Path(__file__).resolve().parent / "seeds"

def write(target, name, data):
    d = ROOT / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data if isinstance(data, bytes) else data.encode())

def txt(*entries):
    out = b""
    for e in entries:
        e = e.encode() if isinstance(e, str) else e
        out += bytes([len(e)]) + e
    return out

# --- sighting: service, instance, host, addresses, port, raw TXT -------------------------------
SIGHTINGS = {
    "hap-lock": ("_hap._tcp", "Front Door Lock", "Front-Door-Lock.local.", "192.168.1.40,fe80::1", "51826",
                 txt("c#=2", "ff=1", "id=AA:BB:CC:DD:EE:FF", "md=Aqara Lock", "pv=1.1", "s#=1", "sf=0", "ci=6", "sh=Xb2Oxg==")),
    "matterc": ("_matterc._udp", "DD2B1E0C5BA4E3F1", "B8F009C37B2D.local.", "192.168.1.41", "5540",
                txt("D=3840", "VP=65521+32769", "CM=1", "DT=266", "DN=Smart Plug", "SII=5000", "SAI=300", "T=1")),
    "matter": ("_matter._tcp", "87E1B004D9A4A5B9-0000000000000001", "B8F009C37B2D.local.", "fd00::1", "5540",
               txt("SII=5000", "SAI=300", "SAT=4000", "T=0")),
    "cast": ("_googlecast._tcp", "Chromecast-8c0e6d4e1f2a", "8c0e6d4e-1f2a.local.", "192.168.1.50", "8009",
             txt("id=8c0e6d4e1f2a3b4c5d6e7f8091a2b3c4", "md=Chromecast", "fn=Living Room TV", "ve=05", "ic=/setup/icon.png", "ca=4101", "st=0", "bs=FA8FCA771B5D", "rs=")),
    "airplay": ("_airplay._tcp", "Den", "den-tv.local.", "192.168.1.60", "7000",
                txt("deviceid=C9:2A:14:08:4F:64", "model=AppleTV6,2", "features=0x5A7FFFF7,0x1E", "srcvers=220.68")),
    "raop": ("_raop._tcp", "C92A14084F64@Hello", "den-tv.local.", "192.168.1.60", "7000",
             txt("am=AppleTV3,1", "cn=0,1,2,3", "et=0,3,5", "tp=UDP", "vs=220.68", "sf=0x4", "md=0,1,2", "txtvers=1")),
    "companion": ("_companion-link._tcp", "Anna's iPhone", "Annas-iPhone.local.", "192.168.1.61", "49152",
                  txt("rpMd=iPhone14,2", "rpVr=360.4", "rpFl=0x20000", "rpBA=3C:2E:F9:11:22:33", "rpHN=abc", "rpAD=def")),
    "hue": ("_hue._tcp", "Philips Hue - A1B2C3", "001788fffe123456.local.", "192.168.1.70", "443",
            txt("bridgeid=001788FFFE123456", "modelid=BSB002")),
    "esphome": ("_esphomelib._tcp", "living-room-climate", "living-room-climate.local.", "192.168.1.80", "6053",
                txt("version=2024.6.1", "mac=246f28a1b2c3", "platform=ESP32", "board=esp32dev", "network=wifi", "friendly_name=Living room climate", "config_hash=1a2b3c4d")),
    "shelly-gen2": ("_shelly._tcp", "shellyplus1-c4dd57877294", "shellyplus1-c4dd57877294.local.", "192.168.1.90", "80", txt("gen=2")),
    "shelly-gen1": ("_http._tcp", "shelly1-84CCA8ADE2FA", "shelly1-84CCA8ADE2FA.local.", "192.168.1.91", "80", b""),
    "wled": ("_wled._tcp", "wled-a1b2c3", "wled-a1b2c3.local.", "192.168.1.92", "80", txt("mac=a8032a1b2c3d")),
    "nanoleaf": ("_nanoleafapi._tcp", "Shapes 4F2A", "shapes-4f2a.local.", "192.168.1.93", "16021", txt("id=12:34:56:78:9A:BC", "md=NL42", "srcvers=9.2.2")),
    "elgato": ("_elg._tcp", "Elgato Key Light 1A2B", "elgato-key-light-1a2b.local.", "192.168.1.94", "9123", txt("id=3C:6A:9D:11:22:33", "md=Elgato Key Light", "pv=1.0", "mf=Elgato")),
    "sonos": ("_sonos._tcp", "Sonos-7828CA831A30@Bedroom Speaker", "Sonos-7828CA831A30.local.", "192.168.1.95", "1443",
              txt("info=/api/v1/players/RINCON_7828CA831A3001400/info", "vers=3", "protovers=1.24.1", "bootseq=12", "hhid=Sonos_abc123", "mhhid=Sonos_abc123.x", "location=http://192.168.1.95:1400/xml/device_description.xml", "sslport=1443", "hhsslport=1843", "variant=2", "mdnssequence=0")),
    "ipp": ("_ipp._tcp", "Brother HL-L2350DW", "brother.local.", "192.168.1.96", "631", txt("rp=ipp/print", "UUID=e3248000-80ce-11db-8000-30055c1a2b3c", "ty=Brother HL-L2350DW", "pdl=application/pdf", "usb_MFG=Brother", "usb_MDL=HL-L2350DW")),
    "miio": ("_miio._udp", "roborock-vacuum-s5_miio260426251", "roborock-vacuum-s5_miio260426251.local.", "192.168.1.97", "54321", b""),
    "ewelink": ("_ewelink._tcp", "eWeLink_1000a1b2c3", "ewelink_1000a1b2c3.local.", "192.168.1.98", "8081", txt("id=1000a1b2c3", "type=plug", "encrypt=true", "data1=abcdef")),
    "workstation": ("_workstation._tcp", "pi-foo-01 [b8:27:eb:3a:e2:c8]", "pi-foo-01.local.", "192.168.1.99", "9", b""),
    "home-assistant": ("_home-assistant._tcp", "Home", "a1b2c3d4e5f60718293a4b5c6d7e8f90.local.", "192.168.1.10", "8123",
                       txt("location_name=Home", "uuid=a1b2c3d4e5f60718293a4b5c6d7e8f90", "version=2024.6.0", "internal_url=http://192.168.1.10:8123", "external_url=", "base_url=http://192.168.1.10:8123", "requires_api_password=True")),
    "mqtt": ("_mqtt._tcp", "Mosquitto", "broker.local.", "192.168.1.2", "1883", b""),
    "forged-two-macs": ("_http._tcp", "innocent", "attacker.local.", "192.168.1.66", "80", txt("mac=aa:aa:aa:00:00:01", "macaddress=bb:bb:bb:00:00:02")),
    "odd-txt": ("_http._tcp.local.", "weird\x07name \u2603", "Host.local.", "", "80", txt(b"bad=\xff\xfea", "flag", "=novalue", b"k" * 200 + b"=" + b"x" * 54)),
}
for name, (ty, inst, host, addrs, port, record) in SIGHTINGS.items():
    write("sighting", name, "\n".join([ty, inst, host, addrs, port]).encode() + b"\n" + record)

# --- discovery: selector + topic rest, manifest rules, empty line, payload ----------------------
HA, TAS, Z2M, RAW = "\x00", "\x01", "\x02", "\x03"
PLUG_MANIFEST = "pastat/plug1/#\npahomeassistant/#\nsacmnd/plug1/#\n"
DISCOVERY = {
    "ha-own-switch": (HA + "switch/plug1/config", PLUG_MANIFEST, '{"stat_t":"stat/plug1/POWER","cmd_t":"cmnd/plug1/POWER"}'),
    "ha-injected-lock": (HA + "switch/lamp/config", PLUG_MANIFEST, '{"name":"Lamp","stat_t":"stat/plug1/POWER","cmd_t":"cmnd/frontdoor/LOCK"}'),
    "ha-esphome-sensor": (HA + "sensor/living-room-climate/temperature/config", "paliving-room-climate/#\n",
        '{"name":"temperature","uniq_id":"living-room-climate-temperature","dev_cla":"temperature","unit_of_meas":"\u00b0C",'
        '"stat_t":"living-room-climate/sensor/temperature/state","avty_t":"living-room-climate/status",'
        '"dev":{"ids":"246f28a1b2c3","name":"living-room-climate","mf":"Espressif","mdl":"esp32dev","sw":"2024.6.1"}}'),
    "ha-shelly-base": (HA + "light/shelly1/config", "pashellies/shellybulb-1/#\nsashellies/shellybulb-1/#\n",
        '{"~":"shellies/shellybulb-1/","name":"Bulb","stat_t":"~color/0/status","cmd_t":"~color/0/set",'
        '"bri_cmd_t":"~color/0/bri","set_pos_t":"~pos","json_attr_t":"~info","availability":[{"topic":"~online"}]}'),
    "ha-device-cmps": (HA + "device/plug1/config", "paplug1/#\nsaplug1/#\n",
        '{"dev":{"ids":"plug1","name":"Plug"},"o":{"name":"fw"},"stat_t":"plug1/state",'
        '"cmps":{"relay":{"p":"switch","uniq_id":"plug1-relay","cmd_t":"plug1/set"},'
        '"lock":{"p":"lock","uniq_id":"plug1-lock","cmd_t":"zigbee2mqtt/front_door/set"}}}'),
    "ha-trigger": (HA + "device_automation/plug1/button/config", "", '{"automation_type":"trigger","topic":"cmnd/lock/open"}'),
    "ha-connections": (HA + "sensor/p/config", "", '{"dev":{"cns":[["mac","aa:bb:cc:dd:ee:ff"]]},"stat_t":"p/state"}'),
    "ha-bad-type": (HA + "switch/p/config", "", '{"stat_t": 5}'),
    "ha-wildcard": (HA + "switch/p/config", "", '{"cmd_t": "cmnd/#"}'),
    "ha-empty-removes": (HA + "switch/p/config", "", ""),
    "tasmota-s31": (TAS + "DC4F22A1B2C3/config", "patele/tasmota_A1B2C3/#\npastat/tasmota_A1B2C3/#\nsacmnd/tasmota_A1B2C3/#\n",
        '{"ip":"10.77.0.150","dn":"Kitchen plug","fn":["Kitchen plug",null],"hn":"tasmota-A1B2C3-0451",'
        '"mac":"DC4F22A1B2C3","md":"Sonoff S31","ty":0,"if":0,"ofln":"Offline","onln":"Online","state":["OFF","ON","TOGGLE","HOLD"],'
        '"sw":"14.2.0","t":"tasmota_A1B2C3","ft":"%prefix%/%topic%/","tp":["cmnd","stat","tele"],"rl":[1,0,0,0,0,0,0,0],'
        '"swc":[-1,-1,-1,-1,-1,-1,-1,-1],"swn":[null,null,null,null,null,null,null,null],"btn":[0,0,0,0,0,0,0,0],'
        '"so":{"4":0,"11":0,"13":0,"17":0,"20":0,"30":0,"68":0,"73":0,"82":0,"114":0,"117":0},"lk":0,"lt_st":0,"bat":0,"dslp":0,'
        '"sho":[],"sht":[],"ver":1}'),
    "tasmota-fan-shutter": (TAS + "AABBCCDDEEFF/config", "",
        '{"dn":"Hall","t":"hall","ft":"%prefix%/%topic%/","tp":["cmnd","stat","tele"],"mac":"AABBCCDDEEFF","rl":[3,3],"if":1,"swc":[1],"sht":[[0,0,0]],"so":{"4":1}}'),
    "tasmota-fulltopic": (TAS + "AABBCCDDEEFF/config", "",
        '{"t":"x","hn":"garage-7","ft":"%id%/%hostname%/%prefix%/","tp":["cmnd","stat","tele"],"rl":[1],"mac":"AABBCCDDEEFF"}'),
    "tasmota-sensors": (TAS + "DC4F22A1B2C3/sensors", "",
        '{"sn":{"Time":"2024-05-01T12:00:00","ENERGY":{"TotalStartTime":"2024-01-01T00:00:00","Total":12.3,"Yesterday":1.1,"Today":0.4,"Power":47,"Voltage":232,"Current":0.2}},"ver":1}'),
    "z2m-devices": (Z2M + "bridge/devices", "pazigbee2mqtt/#\nsazigbee2mqtt/+/set\n",
        '[{"ieee_address":"0x00124b0022a1b2c3","type":"Coordinator","network_address":0},'
        '{"ieee_address":"0x00158d0001a2b3c4","type":"EndDevice","friendly_name":"front_door","power_source":"Battery",'
        '"definition":{"model":"MCCGQ11LM","vendor":"Aqara","description":"Door and window sensor",'
        '"exposes":[{"type":"binary","name":"contact","property":"contact","access":1},'
        '{"type":"numeric","name":"battery","property":"battery","unit":"%","access":1}]}},'
        '{"ieee_address":"0x0017880104a5b6c7","type":"Router","friendly_name":"hall/lamp",'
        '"definition":{"model":"9290012573A","vendor":"Philips",'
        '"exposes":[{"type":"light","features":[{"type":"binary","property":"state","access":7}]}]}}]'),
    "z2m-not-a-list": (Z2M + "bridge/devices", "", '{"not":"a list"}'),
    "not-discovery": (RAW + "tele/plug1/STATE", "", '{"POWER":"ON"}'),
}
for name, (topic, manifest, payload) in DISCOVERY.items():
    write("discovery", name, topic + "\n" + manifest + "\n" + payload)

# --- redact: paths joined by |, then the payload ------------------------------------------------
TASMOTA_STATE = ('{"Time":"2024-05-01T12:00:00","Uptime":"0T01:00:00","UptimeSec":3600,"Heap":25,"SleepMode":"Dynamic","Sleep":50,'
                 '"LoadAvg":19,"MqttCount":1,"POWER":"ON","Wifi":{"AP":1,"SSId":"HomeNet","BSSId":"AA:BB:CC:DD:EE:FF","Channel":6,'
                 '"Mode":"11n","RSSI":78,"Signal":-61,"LinkCount":1,"Downtime":"0T00:00:03"}}')
OWNTRACKS = '{"_type":"location","lat":52.37,"lon":4.89,"acc":10,"alt":3,"vel":0,"cog":0,"batt":81,"tid":"an","tst":1714550400,"t":"u"}'
REDACT = {
    "tasmota-wifi": ("Wifi.SSId|Wifi.BSSId", TASMOTA_STATE.encode()),
    "owntracks": ("lat|lon|tid", OWNTRACKS.encode()),
    "owntracks-gzip": ("lat|lon", gzip.compress(OWNTRACKS.encode(), mtime=0)),
    "owntracks-zlib": ("lat", zlib.compress(OWNTRACKS.encode())),
    "owntracks-gzip-gzip": ("lat", gzip.compress(gzip.compress(OWNTRACKS.encode(), mtime=0), mtime=0)),
    "owntracks-utf16le-bom": ("lat", b"\xff\xfe" + OWNTRACKS.encode("utf-16-le")),
    "owntracks-utf16be": ("lat", OWNTRACKS.encode("utf-16-be")),
    "owntracks-utf32le": ("lat", OWNTRACKS.encode("utf-32-le")),
    "owntracks-bom": ("lat", b"\xef\xbb\xbf" + OWNTRACKS.encode()),
    "shelly-energy": ("aenergy.by_minute|apower", b'{"id":0,"output":false,"apower":47.11,"voltage":232.0,"current":0.0,"pf":0,"aenergy":{"total":5.125,"by_minute":[783.2,781.9,784.0],"minute_ts":1764400000},"temperature":{"tC":25.3,"tF":77.5}}'),
    "z2m-lock-user": ("action_user|action_source_name", b'{"action":"unlock","action_source_name":"keypad","action_user":3,"battery":90,"linkquality":120}'),
    "pm25-dotted-key": ("PMS5003.PM2.5", b'{"PMS5003":{"PM2.5":12,"PM10":20}}'),
    "array-of-objects": ("lat", b'[{"lat":1,"id":"a"},{"lat":2,"id":"b"}]'),
    "escaped-name": ("lat", b'{"l\\u0061t":52.37,"lon":4.89}'),
    "embedded-json": ("lat", b'{"m":"{\\"lat\\":1,\\"x\\":2}"}'),
    "form": ("lat|Wifi.SSId", b"lat=52.37&lon=4.89&Wifi[SSId]=HomeNet&l%61t=1"),
    "form-embedded-json": ("lat", b'data={"lat":1,"lon":2}&x=1'),
    "cut-short": ("lat", b'{"lat":1,'),
    "not-json-text": ("lat", b"lat is 52.37"),
    "plain-value": ("lat", b"21.5"),
    "c-string": ("lat", b'{"lat":1,"lon":2}\x00\x00'),
    "cbor-like": ("lat", b"\xa2clat\xfb@J/\\(\xf5\xc2\x8fclon\x01"),
    "jpeg": ("lat", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00lat"),
    "zstd": ("lat", b"\x28\xb5\x2f\xfd\x00\x58lat"),
    "frigate-event": ("after.sub_label|after.box", b'{"type":"new","before":{},"after":{"id":"1","camera":"door","label":"person","sub_label":"Anna","score":0.9,"box":[1,2,3,4],"current_zones":["porch"]}}'),
}
for name, (paths, payload) in REDACT.items():
    write("redact", name, paths.encode() + b"\n" + payload)

# --- classify: topic, then payload ---------------------------------------------------------------
CLASSIFY = {
    "tasmota-state": ("tele/tasmota_A1B2C3/STATE", TASMOTA_STATE.encode()),
    "tasmota-sensor": ("tele/tasmota_A1B2C3/SENSOR", b'{"Time":"2024-05-01T12:00:00","DHT22":{"Temperature":23.9,"Humidity":34.1}}'),
    "tasmota-energy": ("tele/plug/SENSOR", b'{"ENERGY":{"TotalStartTime":"2024-01-01","Total":12.3,"Yesterday":1.1,"Today":0.4,"Period":1,"Power":47,"ApparentPower":50,"ReactivePower":10,"Factor":0.9,"Voltage":232,"Current":0.2}}'),
    "tasmota-lwt": ("tele/tasmota_A1B2C3/LWT", b"Online"),
    "shelly-status": ("shellyplusplugs-c4dd57877294/status/switch:0", b'{"id":0,"output":false,"apower":47.11,"voltage":232.0,"current":0.0,"pf":0,"aenergy":{"total":5.125,"by_minute":[783.2,781.9,784.0],"minute_ts":1764400000},"temperature":{"tC":25.3,"tF":77.5}}'),
    "shelly-gen1-power": ("shellies/shelly1-84CCA8ADE2FA/relay/0/power", b"47.11"),
    "esphome-state": ("living-room-climate/sensor/temperature/state", b"21.5"),
    "z2m-door": ("zigbee2mqtt/front_door", b'{"battery":100,"contact":false,"device_temperature":26,"linkquality":153,"power_outage_count":6889,"voltage":3035}'),
    "z2m-occupancy": ("zigbee2mqtt/hall_motion", b'{"occupancy":true,"battery":90}'),
    "z2m-lock": ("zigbee2mqtt/front_lock", b'{"action":"unlock","action_source_name":"keypad","action_user":3,"lock_state":"unlocked"}'),
    "owntracks": ("owntracks/anna/phone", OWNTRACKS.encode()),
    "frigate-snapshot": ("frigate/door/person/snapshot", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01"),
    "frigate-events": ("frigate/events", b'{"type":"new","after":{"id":"1","camera":"door","label":"person","sub_label":"Anna","current_zones":["porch"],"entered_zones":["porch"]}}'),
    "sleep": ("sleepsensor/bed_status", b'{"average_heartbeat":61,"average_respiration":14,"sleep_state":"deep","weight":71.2}'),
    "espresense": ("espresense/devices/phone", b'{"id":"phone","name":"Anna","distance":2.1}'),
    "png": ("camera/snap", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"),
    "array": ("x/y", b"[1,2,3]"),
    "binary": ("x/y", b"\xff\x00\xfe"),
}
for name, (t, payload) in CLASSIFY.items():
    write("classify", name, t.encode() + b"\n" + payload)

# --- topic: a, b, c, then manifest rules ---------------------------------------------------------
TOPIC = {
    "spec": ("sport/tennis/#", "sport/tennis/player1/ranking", "sport/+/player1", "pasport/#\n"),
    "sys": ("#", "$SYS/uptime", "+/uptime", "pa#\nsa#\n"),
    "overlap": ("cmnd/plug1/#", "cmnd/+/Restart", "cmnd/plug1/Restart", "sacmnd/plug1/#\nsdcmnd/+/Restart\n"),
    "tasmota-plug": ("tele/plug1/SENSOR", "tele/plug1/WIFI", "cmnd/plug1/POWER",
                     "patele/plug1/#\npastat/plug1/#\npdtele/plug1/WIFI\nsacmnd/plug1/#\nplhomeassistant/switch/plug1/config\n"),
    "empty-levels": ("a//b", "+/+/#", "/finance", "pa+/+\n"),
    "wide": ("cmnd/#", "cmnd/plug1/+", "cmnd/plug1/Upgrade", "sacmnd/plug1/#\nsdcmnd/+/Upgrade\n"),
}
for name, (a, b, c, rules) in TOPIC.items():
    write("topic", name, "\n".join([a, b, c]) + "\n" + rules)

# --- suggest: <owner><direction><status><pattern> lines ------------------------------------------
FRONT_DOOR = "1patele/frontdoor/#\n1pastat/frontdoor/#\n1sacmnd/frontdoor/#\n"
HOME_ASSISTANT = "9sa#\n9sahomeassistant/#\n9pahomeassistant/status\n9pacmnd/plug1/POWER\n9pdcmnd/+/Restart\n9pakitchen/switch/relay/command\n"
SUGGEST = {
    "tasmota": "tpltele/tasmota_A1B2C3/LWT\ntplstat/tasmota_A1B2C3/RESULT\n",
    "tasmota-other-device": "tpltele/frontdoor/LWT\n" + FRONT_DOOR,
    "tasmota-with-controller": "tpltele/plug1/STATE\n" + HOME_ASSISTANT,
    "shelly-gen2": "tplshellyplusplugs-c4dd57877294/online\ntplshellyplusplugs-c4dd57877294/events/rpc\n",
    "shelly-gen1": "tplshellies/shelly1-84CCA8ADE2FA/relay/0\nslshellies/command\n",
    "esphome": "tplkitchen/status\ntplkitchen/switch/relay/state\ntplhomeassistant/switch/kitchen/relay/config\n" + HOME_ASSISTANT,
    "z2m-bridge": "tplzigbee2mqtt/bridge/state\ntplzigbee2mqtt/bridge/devices\n",
    "z2m-controller": "tplzigbee2mqtt/lamp/set\ntplzigbee2mqtt/bridge/request/permit_join\n2pazigbee2mqtt/#\n",
    "frigate": "tplfrigate/available\ntplfrigate/door/person/snapshot\n",
    "owntracks": "tplowntracks/anna/phone\ntplowntracks/anna/phone/event\n3paowntracks/bob/phone/#\n",
    "shared-roots": "tplcmnd/status\ntplhomeassistant/status\ntpltele/cmnd/STATE\n",
    "existing": "tpltele/plug1/STATE\nepatele/plug1/#\n",
}
for name, lines in SUGGEST.items():
    write("suggest", name, lines)

# --- config: hearth.toml -------------------------------------------------------------------------
CONFIG = {
    "empty": "",
    "all": '[http]\nlisten = "0.0.0.0:9000"\nallow_plain_http = false\n[discovery]\ninterfaces = ["eth0", "wlan0"]\nadvertise = true\nenabled = true\n'
           '[broker]\nenabled = true\nlisten = "127.0.0.1:1884"\ntls_listen = "[::]:8883"\ntls = true\nallow_anonymous = false\n[secrets]\nstore = "file"\n',
    "bad-listen": '[http]\nlisten = "not an address"\n',
    "typo": '[http]\nlisen = "127.0.0.1:1"\n',
    "bad-store": '[secrets]\nstore = "cloud"\n',
    "inline": 'http = { listen = "[fe80::1%2]:8470" }\nbroker.allow_anonymous = true\n',
}
for name, text in CONFIG.items():
    write("config", name, text)
