"""Topic and dynamic broker configs through confluent-kafka's AdminClient:
IncrementalAlterConfigs on a topic and on the broker, DescribeConfigs with
synonyms, the legacy AlterConfigs, and the changes surviving a restart."""

import pytest
from confluent_kafka import KafkaException
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    ConfigSource,
    NewTopic,
)

TIMEOUT_S = 15


def admin(broker):
    return AdminClient({"bootstrap.servers": broker.bootstrap})


def alter(a, kind, name, *entries):
    res = ConfigResource(kind, name, incremental_configs=[
        ConfigEntry(k, v, incremental_operation=op) for k, v, op in entries])
    a.incremental_alter_configs([res])[res].result(TIMEOUT_S)


def describe(a, kind, name):
    res = ConfigResource(kind, name)
    return a.describe_configs([res])[res].result(TIMEOUT_S)


def synonyms(entry):
    # confluent-kafka keys synonyms by name, so a key listed for two sources
    # (dynamic and default) shows once; the tests compare distinct names.
    return [(s.name, s.value, ConfigSource(s.source).name) for s in entry.synonyms.values()]


def test_topic_and_broker_configs_with_synonyms_survive_restart(broker):
    a = admin(broker)
    a.create_topics([NewTopic("cfg", 1, 1)])["cfg"].result(TIMEOUT_S)
    TOPIC, BROKER = ConfigResource.Type.TOPIC, ConfigResource.Type.BROKER
    SET = AlterConfigOpType.SET
    alter(a, TOPIC, "cfg", ("retention.ms", "7200000", SET),
          ("cleanup.policy", "compact", AlterConfigOpType.APPEND))
    alter(a, BROKER, "1", ("log.segment.bytes", "2097152", SET))
    alter(a, BROKER, "1", ("log.retention.ms", "3600000", SET),
          ("message.max.bytes", "2000000", SET))

    def check(a):
        t = describe(a, TOPIC, "cfg")
        assert t["retention.ms"].value == "7200000"
        assert t["retention.ms"].source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value
        assert synonyms(t["retention.ms"]) == [
            ("retention.ms", "7200000", "DYNAMIC_TOPIC_CONFIG"),
            ("log.retention.ms", "3600000", "DYNAMIC_BROKER_CONFIG"),
            ("log.retention.hours", "168", "DEFAULT_CONFIG")]
        assert t["cleanup.policy"].value == "delete,compact"
        # Broker-level values feed the topic's defaults.
        assert t["segment.bytes"].value == "2097152"
        assert t["segment.bytes"].source == ConfigSource.DYNAMIC_BROKER_CONFIG.value
        assert t["max.message.bytes"].value == "2000000"
        assert t["max.message.bytes"].source == ConfigSource.DYNAMIC_BROKER_CONFIG.value

        b = describe(a, BROKER, "1")
        assert b["log.retention.ms"].value == "3600000"
        assert b["log.retention.ms"].source == ConfigSource.DYNAMIC_BROKER_CONFIG.value
        assert not b["log.retention.ms"].is_read_only
        assert b["log.dirs"].is_read_only
        assert b["log.segment.bytes"].source == ConfigSource.DYNAMIC_BROKER_CONFIG.value
        # (librdkafka cannot name the cluster default "": the CLI tests cover it.)

    check(a)
    broker.stop()
    broker.start()
    check(admin(broker))


def test_broker_configs_refused_as_kafka_does(broker):
    a = admin(broker)
    BROKER = ConfigResource.Type.BROKER
    with pytest.raises(KafkaException) as e:
        alter(a, BROKER, "1", ("log.dirs", "/elsewhere", AlterConfigOpType.SET))
    assert "INVALID_REQUEST" in str(e.value) or "Cannot update" in str(e.value)
    assert "log.dirs" in str(e.value)
    with pytest.raises(KafkaException) as e:
        alter(a, BROKER, "1", ("log.retention.ms", "soon", AlterConfigOpType.SET))
    assert "log.retention.ms" in str(e.value)
    with pytest.raises(KafkaException) as e:
        alter(a, BROKER, "1", ("message.max.bytes", "1", AlterConfigOpType.APPEND))
    assert "message.max.bytes" in str(e.value)


def test_legacy_alter_configs_replaces_the_whole_set(broker):
    a = admin(broker)
    a.create_topics([NewTopic("legacy", 1, 1, config={"segment.ms": "100000"})])["legacy"].result(
        TIMEOUT_S)
    res = ConfigResource(ConfigResource.Type.TOPIC, "legacy", set_config={"retention.ms": "5000"})
    a.alter_configs([res])[res].result(TIMEOUT_S)
    t = describe(a, ConfigResource.Type.TOPIC, "legacy")
    assert t["retention.ms"].value == "5000"
    assert t["segment.ms"].value == "604800000"
    assert t["segment.ms"].source == ConfigSource.DEFAULT_CONFIG.value
