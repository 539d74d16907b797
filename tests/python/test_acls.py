"""ACLs, the StandardAuthorizer and SCRAM credentials through confluent-kafka's
AdminClient against the real broker: CreateAcls/DescribeAcls/DeleteAcls with
Kafka's answers, ACLs that survive a restart, a DENY that stops a producer,
and the KIP-554 SCRAM credential round trip."""

import pytest
import subprocess
import time

from confluent_kafka import (
    Consumer,
    ConsumerGroupTopicPartitions,
    KafkaError,
    KafkaException,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ConfigResource,
    NewTopic,
    ResourcePatternType,
    ResourceType,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialDeletion,
    UserScramCredentialUpsertion,
)

from conftest import Broker, gregor_bin

TIMEOUT_S = 15
STANDARD_AUTHORIZER = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
# Everyone may act where no ACL exists, so the tests can create topics
# while ACLs on individual resources still decide for those resources.
AUTHORIZER = [f"authorizer.class.name={STANDARD_AUTHORIZER}",
              "allow.everyone.if.no.acl.found=true"]


@pytest.fixture
def secured(tmp_path, request):
    b = Broker(tmp_path, AUTHORIZER)
    b.start()
    yield b
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        print(b.log_tail())
    assert b.stop() == 0, b.log_tail()


def admin(broker):
    return AdminClient({"bootstrap.servers": broker.bootstrap})


def binding(rtype, name, pattern, principal, op, perm, host="*"):
    return AclBinding(rtype, name, pattern, principal, host, op, perm)


def key(b):
    return (b.restype, b.name, b.resource_pattern_type, b.principal, b.host,
            b.operation, b.permission_type)


def describe(a, flt):
    return sorted(map(key, a.describe_acls(flt).result(TIMEOUT_S)))


ANY_FILTER = AclBindingFilter(ResourceType.ANY, None, ResourcePatternType.ANY,
                              None, None, AclOperation.ANY, AclPermissionType.ANY)

ORDERS_READ = binding(ResourceType.TOPIC, "orders", ResourcePatternType.LITERAL,
                      "User:alice", AclOperation.READ, AclPermissionType.ALLOW)
ORD_PREFIX_WRITE = binding(ResourceType.TOPIC, "ord", ResourcePatternType.PREFIXED,
                           "User:bob", AclOperation.WRITE, AclPermissionType.DENY)
GROUP_READ = binding(ResourceType.GROUP, "g1", ResourcePatternType.LITERAL,
                     "User:alice", AclOperation.READ, AclPermissionType.ALLOW)


def test_acl_apis_answer_security_disabled_without_authorizer(broker):
    # librdkafka drops DescribeAcls' top-level error, so the per-ACL answers
    # of CreateAcls and DeleteAcls are the ones a client can see
    # (garbage_input.rs checks DescribeAcls on the wire).
    a = admin(broker)
    fs = a.create_acls([ORDERS_READ])
    with pytest.raises(KafkaException) as e:
        fs[ORDERS_READ].result(TIMEOUT_S)
    assert e.value.args[0].code() == KafkaError.SECURITY_DISABLED
    fs = a.delete_acls([ANY_FILTER])
    with pytest.raises(KafkaException) as e:
        fs[ANY_FILTER].result(TIMEOUT_S)
    assert e.value.args[0].code() == KafkaError.SECURITY_DISABLED


def test_create_describe_delete_and_restart(secured):
    a = admin(secured)
    fs = a.create_acls([ORDERS_READ, ORD_PREFIX_WRITE, GROUP_READ])
    for f in fs.values():
        assert f.result(TIMEOUT_S) is None
    # Creating an existing ACL again succeeds without a duplicate.
    a.create_acls([ORDERS_READ])[ORDERS_READ].result(TIMEOUT_S)
    everything = sorted(map(key, [ORDERS_READ, ORD_PREFIX_WRITE, GROUP_READ]))
    assert describe(a, ANY_FILTER) == everything

    # MATCH: the literal name and the prefix that covers it, not the group.
    match = AclBindingFilter(ResourceType.TOPIC, "orders", ResourcePatternType.MATCH,
                             None, None, AclOperation.ANY, AclPermissionType.ANY)
    assert describe(a, match) == sorted(map(key, [ORDERS_READ, ORD_PREFIX_WRITE]))
    by_principal = AclBindingFilter(ResourceType.ANY, None, ResourcePatternType.ANY,
                                    "User:alice", None, AclOperation.ANY,
                                    AclPermissionType.ANY)
    assert describe(a, by_principal) == sorted(map(key, [ORDERS_READ, GROUP_READ]))

    # The CLUSTER resource has exactly one name.
    bad = binding(ResourceType.BROKER, "not-the-cluster", ResourcePatternType.LITERAL,
                  "User:alice", AclOperation.ALTER, AclPermissionType.ALLOW)
    with pytest.raises(KafkaException) as e:
        a.create_acls([bad])[bad].result(TIMEOUT_S)
    assert e.value.args[0].code() == KafkaError.INVALID_REQUEST

    secured.stop()
    secured.start()
    a = admin(secured)
    assert describe(a, ANY_FILTER) == everything, "ACLs survive a restart"

    groups = AclBindingFilter(ResourceType.GROUP, None, ResourcePatternType.ANY,
                              None, None, AclOperation.ANY, AclPermissionType.ANY)
    deleted = a.delete_acls([groups])[groups].result(TIMEOUT_S)
    assert sorted(map(key, deleted)) == [key(GROUP_READ)]
    assert describe(a, ANY_FILTER) == sorted(map(key, [ORDERS_READ, ORD_PREFIX_WRITE]))

    secured.stop()
    secured.start()
    a = admin(secured)
    assert describe(a, ANY_FILTER) == sorted(
        map(key, [ORDERS_READ, ORD_PREFIX_WRITE])), "deletions survive a restart"


def produce_one(broker, topic):
    """Produces one record and returns the delivery error (None on success)."""
    errors = []
    p = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 0,
                  "message.timeout.ms": 10000})
    p.produce(topic, value=b"v", on_delivery=lambda err, msg: errors.append(err))
    p.flush(TIMEOUT_S)
    assert len(errors) == 1, "delivery report arrived"
    return errors[0]


def test_deny_write_stops_producer_on_that_topic_only(secured):
    a = admin(secured)
    for t in ("denied", "open"):
        a.create_topics([NewTopic(t, 1, 1)])[t].result(TIMEOUT_S)
    deny = binding(ResourceType.TOPIC, "denied", ResourcePatternType.LITERAL,
                   "User:ANONYMOUS", AclOperation.WRITE, AclPermissionType.DENY)
    a.create_acls([deny])[deny].result(TIMEOUT_S)

    # Once a resource has any ACL, allow.everyone.if.no.acl.found no longer
    # applies to it: the topic is hidden from Metadata, as in Kafka.
    md = a.list_topics(timeout=TIMEOUT_S)
    assert "denied" not in md.topics and "open" in md.topics

    # With DESCRIBE allowed the producer reaches Produce, which is refused.
    describe_ok = binding(ResourceType.TOPIC, "denied", ResourcePatternType.LITERAL,
                          "User:ANONYMOUS", AclOperation.DESCRIBE,
                          AclPermissionType.ALLOW)
    a.create_acls([describe_ok])[describe_ok].result(TIMEOUT_S)
    err = produce_one(secured, "denied")
    assert err is not None and err.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED, err
    assert produce_one(secured, "open") is None

    # DESCRIBE does not imply DESCRIBE_CONFIGS; the ACL-free topic stays open.
    res = ConfigResource(ConfigResource.Type.TOPIC, "denied")
    with pytest.raises(KafkaException) as e:
        a.describe_configs([res])[res].result(TIMEOUT_S)
    assert e.value.args[0].code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
    res = ConfigResource(ConfigResource.Type.TOPIC, "open")
    assert "retention.ms" in a.describe_configs([res])[res].result(TIMEOUT_S)

    # An ALLOW WRITE does not override the DENY: deny wins.
    write_ok = binding(ResourceType.TOPIC, "*", ResourcePatternType.LITERAL,
                       "User:*", AclOperation.WRITE, AclPermissionType.ALLOW)
    a.create_acls([write_ok])[write_ok].result(TIMEOUT_S)
    err = produce_one(secured, "denied")
    assert err is not None and err.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED, err

    deny_filter = AclBindingFilter(ResourceType.TOPIC, "denied", ResourcePatternType.LITERAL,
                                   "User:ANONYMOUS", "*", AclOperation.WRITE,
                                   AclPermissionType.DENY)
    assert list(map(key, a.delete_acls([deny_filter])[deny_filter].result(TIMEOUT_S))) == [
        key(deny)]
    assert produce_one(secured, "denied") is None


def test_group_acls_decide_listing_offset_deletion_and_subscription(secured):
    a = admin(secured)
    for t in ("plain", "secret"):
        a.create_topics([NewTopic(t, 1, 1)])[t].result(TIMEOUT_S)
    for g in ("shown", "hidden"):
        req = ConsumerGroupTopicPartitions(g, [TopicPartition("plain", 0, 3)])
        a.alter_consumer_group_offsets([req])[g].result(TIMEOUT_S)
    denials = [
        binding(ResourceType.BROKER, "kafka-cluster", ResourcePatternType.LITERAL,
                "User:ANONYMOUS", AclOperation.DESCRIBE, AclPermissionType.DENY),
        binding(ResourceType.GROUP, "hidden", ResourcePatternType.LITERAL,
                "User:ANONYMOUS", AclOperation.ALL, AclPermissionType.DENY),
        binding(ResourceType.TOPIC, "secret", ResourcePatternType.LITERAL,
                "User:ANONYMOUS", AclOperation.DESCRIBE, AclPermissionType.DENY),
    ]
    fs = a.create_acls(denials)
    for d in denials:
        fs[d].result(TIMEOUT_S)

    # Without DESCRIBE on the cluster, ListGroups shows only the groups the
    # principal may describe.
    listed = a.list_consumer_groups().result(TIMEOUT_S)
    names = {g.group_id for g in listed.valid}
    assert "shown" in names and "hidden" not in names, names

    # OffsetDelete needs DELETE on the group (confluent-kafka has no
    # DeleteConsumerGroupOffsets; the kafka-consumer-groups equivalent does).
    def delete_offsets(group):
        return subprocess.run(
            [gregor_bin(), "groups", "delete-offsets", "--bootstrap-server",
             secured.bootstrap, "--group", group, "--topic", "plain:0"],
            capture_output=True, text=True, timeout=60)
    refused = delete_offsets("hidden")
    assert refused.returncode != 0, refused.stdout
    assert "GROUP_AUTHORIZATION_FAILED" in refused.stdout + refused.stderr, refused
    deleted = delete_offsets("shown")
    assert deleted.returncode == 0, deleted.stdout + deleted.stderr

    # A KIP-848 consumer may not subscribe to a topic it cannot describe.
    c = Consumer({"bootstrap.servers": secured.bootstrap, "group.id": "subscriber",
                  "group.protocol": "consumer"})
    try:
        c.subscribe(["plain", "secret"])
        deadline = time.monotonic() + TIMEOUT_S
        error = None
        while error is None and time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is not None and m.error() is not None:
                error = m.error()
        assert error is not None and error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED, error
    finally:
        c.close()


def test_scram_credentials_round_trip(secured):
    a = admin(secured)
    sha256 = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_256, 8192)
    sha512 = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 4096)
    ups = [UserScramCredentialUpsertion("alice", sha256, b"pw1", b"salt-1"),
           UserScramCredentialUpsertion("bob", sha512, b"pw2")]
    for f in a.alter_user_scram_credentials(ups).values():
        assert f.result(TIMEOUT_S) is None
    a.alter_user_scram_credentials(
        [UserScramCredentialUpsertion("alice", sha512, b"pw3")])["alice"].result(TIMEOUT_S)

    described = a.describe_user_scram_credentials(["alice", "bob"])
    infos = {u: sorted((i.mechanism, i.iterations)
                       for i in f.result(TIMEOUT_S).scram_credential_infos)
             for u, f in described.items()}
    assert infos == {
        "alice": [(ScramMechanism.SCRAM_SHA_256, 8192), (ScramMechanism.SCRAM_SHA_512, 4096)],
        "bob": [(ScramMechanism.SCRAM_SHA_512, 4096)],
    }

    # Kafka's refusals: too few iterations, unknown user.
    few = UserScramCredentialUpsertion(
        "carol", ScramCredentialInfo(ScramMechanism.SCRAM_SHA_256, 100), b"pw")
    with pytest.raises(KafkaException) as e:
        a.alter_user_scram_credentials([few])["carol"].result(TIMEOUT_S)
    assert e.value.args[0].code() == KafkaError.UNACCEPTABLE_CREDENTIAL
    missing = a.describe_user_scram_credentials(["carol"])
    with pytest.raises(KafkaException) as e:
        missing["carol"].result(TIMEOUT_S)
    assert e.value.args[0].code() == KafkaError.RESOURCE_NOT_FOUND

    secured.stop()
    secured.start()
    a = admin(secured)
    dele = UserScramCredentialDeletion("alice", ScramMechanism.SCRAM_SHA_256)
    a.alter_user_scram_credentials([dele])["alice"].result(TIMEOUT_S)
    with pytest.raises(KafkaException) as e:
        a.alter_user_scram_credentials([dele])["alice"].result(TIMEOUT_S)
    assert e.value.args[0].code() == KafkaError.RESOURCE_NOT_FOUND
    everyone = a.describe_user_scram_credentials().result(TIMEOUT_S)
    assert {u: sorted((i.mechanism, i.iterations) for i in d.scram_credential_infos)
            for u, d in everyone.items()} == {
        "alice": [(ScramMechanism.SCRAM_SHA_512, 4096)],
        "bob": [(ScramMechanism.SCRAM_SHA_512, 4096)],
    }
