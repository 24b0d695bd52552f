import time
from test_mqtt_interop import broker, subscribe  # noqa
from interop_brokers import stop_client


def test_probe_v3_shared(broker):
    members = [broker.client(f"shared3-{i}", "3.1.1") for i in range(2)]
    for m in members:
        print(f"\nPROBE {broker.name} suback", subscribe(broker, m, ("$share/workers/TopicA/+", 1)))
    sender = broker.client("shared3-sender", "3.1.1")
    for i in range(10):
        sender.publish("TopicA/B", f"job {i}", qos=1).wait_for_publish(5)
    time.sleep(1)
    print(f"PROBE {broker.name} split", [len(m.received.log) for m in members])
    for c in (*members, sender):
        stop_client(c)
