//! Kafka 4.0's broker configs that users commonly read or set, grouped as
//! Kafka's documentation groups them. Defaults are Kafka's except where a
//! doc says "Gregor default".

use super::ConfigDef;
use super::Validator::*;

const MAX_INT: &str = "2147483647";
const MAX_LONG: &str = "9223372036854775807";
// Java's `Double.MAX_VALUE` as Kafka prints it.
const MAX_DOUBLE: &str = "1.7976931348623157E308";
const COMPRESSION_TYPES: &[&str] = &["uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"];
const SECURITY_PROTOCOLS: &[&str] = &["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"];

pub(super) static BROKER_CONFIGS: &[ConfigDef] = config_table! {
    // --- Node identity and KRaft ---
    "node.id": Int = "1", AtLeast(0), ReadOnly,
        "Id of this node in the cluster. Gregor default: 1, so a single node needs no configuration.";
    "broker.id": Int = "-1", None, ReadOnly,
        "Older name of node.id; when only one of the two is set the other takes its value, and they must agree if both are set.";
    "process.roles": List = "broker,controller", ListOf(&["broker", "controller"]), ReadOnly,
        "Roles this node plays: broker, controller, or both. Gregor default: both (a combined single node).";
    "controller.listener.names": String = null, None, ReadOnly,
        "Comma-separated names of the listeners used by the controller quorum.";
    "controller.quorum.voters": List = "", QuorumVoters, ReadOnly,
        "Static controller quorum as id@host:port entries.";
    "controller.quorum.bootstrap.servers": List = "", HostPorts, ReadOnly,
        "host:port addresses used to discover the controller quorum when it is configured dynamically.";
    "controller.quorum.election.timeout.ms": Int = "1000", None, ReadOnly,
        "How long a voter waits without hearing from a leader before starting an election.";
    "controller.quorum.fetch.timeout.ms": Int = "2000", None, ReadOnly,
        "How long a follower waits without a successful fetch before it suspects the leader.";
    "controller.quorum.election.backoff.max.ms": Int = "1000", None, ReadOnly,
        "Upper bound of the randomized backoff before a new election.";
    "controller.quorum.append.linger.ms": Int = "25", None, ReadOnly,
        "How long the quorum leader waits to batch metadata writes before flushing them.";
    "controller.quorum.request.timeout.ms": Int = "2000", None, ReadOnly,
        "Timeout of requests between quorum members.";
    "controller.quorum.retry.backoff.ms": Int = "20", None, ReadOnly,
        "Pause before retrying a failed quorum request.";
    "sasl.mechanism.controller.protocol": String = "GSSAPI", None, ReadOnly,
        "SASL mechanism used to talk to controllers.";
    "metadata.log.dir": String = null, None, ReadOnly,
        "Directory of the cluster metadata log; when unset the first log directory is used.";
    "metadata.log.segment.bytes": Int = "1073741824", AtLeast(12), ReadOnly,
        "Segment size of the metadata log.";
    "metadata.log.segment.ms": Long = "604800000", None, ReadOnly,
        "Age at which a metadata log segment is rolled.";
    "metadata.max.retention.bytes": Long = "104857600", None, ReadOnly,
        "Size of metadata log and snapshots above which old snapshots and segments are deleted.";
    "metadata.max.retention.ms": Long = "604800000", None, ReadOnly,
        "Age after which metadata snapshots and segments may be deleted.";
    "metadata.log.max.record.bytes.between.snapshots": Long = "20971520", AtLeast(1), ReadOnly,
        "Bytes of new metadata records after which a snapshot is written.";
    "metadata.log.max.snapshot.interval.ms": Long = "3600000", AtLeast(0), ReadOnly,
        "Longest time between metadata snapshots when records were committed; 0 disables time-based snapshots.";
    "metadata.max.idle.interval.ms": Int = "500", AtLeast(0), ReadOnly,
        "How often the controller appends a no-op record to keep the metadata log moving; 0 disables it.";
    "initial.broker.registration.timeout.ms": Int = "60000", None, ReadOnly,
        "How long a starting broker waits to register with the controller before giving up.";
    "broker.heartbeat.interval.ms": Int = "2000", None, ReadOnly,
        "Interval between broker heartbeats to the controller.";
    "broker.session.timeout.ms": Int = "9000", None, ReadOnly,
        "How long a broker may go without heartbeating before the controller fences it.";
    "eligible.leader.replicas.enable": Boolean = "false", None, ReadOnly,
        "Enable eligible leader replicas (KIP-966) for leader election.";
    "broker.rack": String = null, None, ReadOnly,
        "Rack of this broker, used for rack-aware replica placement and follower fetching.";

    // --- Listeners and sockets ---
    "listeners": String = "PLAINTEXT://0.0.0.0:9092", Listeners, PerBroker,
        "Comma-separated NAME://host:port addresses to listen on; an empty host means all interfaces. Gregor default: PLAINTEXT://0.0.0.0:9092.";
    "advertised.listeners": String = null, Listeners, PerBroker,
        "Addresses given to clients if different from listeners. Gregor default: listeners with wildcard hosts replaced by 127.0.0.1.";
    "listener.security.protocol.map": String = "SASL_SSL:SASL_SSL,PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT", ListenerProtocolMap, PerBroker,
        "Security protocol of each listener name as NAME:PROTOCOL pairs; needed for names that are not protocol names.";
    "inter.broker.listener.name": String = null, None, ReadOnly,
        "Listener that brokers use to talk to each other; defaults to the one using security.inter.broker.protocol.";
    "security.inter.broker.protocol": String = "PLAINTEXT", OneOf(SECURITY_PROTOCOLS), ReadOnly,
        "Security protocol between brokers; not to be set together with inter.broker.listener.name.";
    "early.start.listeners": String = null, None, ReadOnly,
        "Listeners that may accept connections before the authorizer has loaded.";
    "socket.send.buffer.bytes": Int = "102400", None, ReadOnly,
        "SO_SNDBUF of server sockets; -1 leaves the OS default.";
    "socket.receive.buffer.bytes": Int = "102400", None, ReadOnly,
        "SO_RCVBUF of server sockets; -1 leaves the OS default.";
    "socket.request.max.bytes": Int = "104857600", AtLeast(1), ReadOnly,
        "Largest request the broker reads; bigger frames close the connection.";
    "socket.listen.backlog.size": Int = "50", AtLeast(1), ReadOnly,
        "Backlog of pending connections on each listening socket.";
    "socket.connection.setup.timeout.ms": Long = "10000", None, ReadOnly,
        "Initial time allowed to establish an outgoing connection.";
    "socket.connection.setup.timeout.max.ms": Long = "30000", None, ReadOnly,
        "Upper bound of the growing outgoing connection setup timeout.";
    "connections.max.idle.ms": Long = "600000", None, ReadOnly,
        "Idle connections are closed after this long; a negative value disables idle closing.";
    "quota.window.num": Int = "11", AtLeast(1), ReadOnly,
        "Number of samples kept in memory for client quotas.";
    "quota.window.size.seconds": Int = "1", AtLeast(1), ReadOnly,
        "Time span of each sample for client quotas.";
    "connections.max.reauth.ms": Long = "0", None, ReadOnly,
        "Longest a SASL session may live before the client must re-authenticate; 0 disables re-authentication.";
    "connection.failed.authentication.delay.ms": Int = "100", AtLeast(0), ReadOnly,
        "Delay before closing a connection whose authentication failed, to slow down brute force.";
    "max.connections": Int = MAX_INT, AtLeast(0), ClusterWide,
        "Most connections the broker accepts at once.";
    "max.connections.per.ip": Int = MAX_INT, AtLeast(0), ClusterWide,
        "Most connections accepted from one IP address.";
    "max.connections.per.ip.overrides": String = "", None, ClusterWide,
        "Per-IP or per-host exceptions to max.connections.per.ip, as host:count pairs.";
    "max.connection.creation.rate": Int = MAX_INT, AtLeast(0), ClusterWide,
        "Most new connections accepted per second.";
    "queued.max.requests": Int = "500", AtLeast(1), ReadOnly,
        "Requests that may wait for the I/O threads before the network threads stop reading.";
    "queued.max.request.bytes": Long = "-1", None, ReadOnly,
        "Bytes of requests that may be queued before reading stops; -1 means no byte limit.";
    "num.network.threads": Int = "3", AtLeast(1), ClusterWide,
        "Threads that read requests from and write responses to the network.";
    "num.io.threads": Int = "8", AtLeast(1), ClusterWide,
        "Threads that process requests, including disk I/O.";
    "background.threads": Int = "10", AtLeast(1), ClusterWide,
        "Threads for background work such as deleting files.";
    "request.timeout.ms": Int = "30000", None, ReadOnly,
        "How long the broker's own clients wait for a response before retrying or failing.";

    // --- Topics and partitions ---
    "num.partitions": Int = "1", AtLeast(1), ReadOnly,
        "Partition count of topics created without an explicit count.";
    "default.replication.factor": Int = "1", None, ReadOnly,
        "Replication factor of topics created without an explicit one.";
    "auto.create.topics.enable": Boolean = "true", None, ReadOnly,
        "Create topics automatically when metadata is requested for an unknown topic.";
    "delete.topic.enable": Boolean = "true", None, ReadOnly,
        "Allow topics to be deleted; when false, delete requests fail.";
    "min.insync.replicas": Int = "1", AtLeast(1), ClusterWide,
        "Default for topic min.insync.replicas: in-sync replicas an acks=all write needs.";
    "unclean.leader.election.enable": Boolean = "false", None, ClusterWide,
        "Default for topic unclean.leader.election.enable.";
    "compression.type": String = "producer", OneOf(COMPRESSION_TYPES), ClusterWide,
        "Default for topic compression.type.";
    "compression.gzip.level": Int = "-1", GzipLevel, ClusterWide,
        "Default for topic compression.gzip.level.";
    "compression.lz4.level": Int = "9", Between(1, 17), ClusterWide,
        "Default for topic compression.lz4.level.";
    "compression.zstd.level": Int = "3", Between(-131072, 22), ClusterWide,
        "Default for topic compression.zstd.level.";
    "message.max.bytes": Int = "1048588", AtLeast(0), ClusterWide,
        "Largest record batch accepted, after compression; default for topic max.message.bytes.";
    "create.topic.policy.class.name": Class = null, None, ReadOnly,
        "Class that validates topic creation requests.";
    "alter.config.policy.class.name": Class = null, None, ReadOnly,
        "Class that validates config alteration requests.";

    // --- Log storage ---
    "log.dir": List = "./gregor-data", None, ReadOnly,
        "Data directory, used when log.dirs is unset. Gregor default: ./gregor-data.";
    "log.dirs": List = null, None, ReadOnly,
        "Comma-separated data directories; takes precedence over log.dir.";
    "log.segment.bytes": Int = "1073741824", AtLeast(1048576), ClusterWide,
        "Default for topic segment.bytes: size at which a segment file is rolled.";
    "log.roll.ms": Long = null, None, ClusterWide,
        "Default for topic segment.ms, in milliseconds; when unset log.roll.hours is used.";
    "log.roll.hours": Int = "168", AtLeast(1), ReadOnly,
        "Default for topic segment.ms, in hours; log.roll.ms takes precedence.";
    "log.roll.jitter.ms": Long = null, None, ClusterWide,
        "Default for topic segment.jitter.ms; when unset log.roll.jitter.hours is used.";
    "log.roll.jitter.hours": Int = "0", AtLeast(0), ReadOnly,
        "Default for topic segment.jitter.ms, in hours; log.roll.jitter.ms takes precedence.";
    "log.retention.ms": Long = null, None, ClusterWide,
        "Default for topic retention.ms; when unset log.retention.minutes, then log.retention.hours, is used. -1 keeps data forever.";
    "log.retention.minutes": Int = null, None, ReadOnly,
        "Default for topic retention.ms, in minutes; log.retention.ms takes precedence.";
    "log.retention.hours": Int = "168", None, ReadOnly,
        "Default for topic retention.ms, in hours; used only when log.retention.ms and log.retention.minutes are unset.";
    "log.retention.bytes": Long = "-1", None, ClusterWide,
        "Default for topic retention.bytes; -1 means no size limit.";
    "log.retention.check.interval.ms": Long = "300000", AtLeast(1), ReadOnly,
        "How often logs are checked for segments past retention.";
    "log.cleanup.policy": List = "delete", ListOf(&["compact", "delete"]), ClusterWide,
        "Default for topic cleanup.policy.";
    "log.index.size.max.bytes": Int = "10485760", AtLeast(4), ClusterWide,
        "Default for topic segment.index.bytes: size of each segment's offset index.";
    "log.index.interval.bytes": Int = "4096", AtLeast(0), ClusterWide,
        "Default for topic index.interval.bytes: bytes between offset index entries.";
    "log.flush.interval.messages": Long = MAX_LONG, AtLeast(1), ClusterWide,
        "Default for topic flush.messages: records appended before a forced fsync.";
    "log.flush.interval.ms": Long = null, None, ClusterWide,
        "Default for topic flush.ms; when unset log.flush.scheduler.interval.ms is used.";
    "log.flush.scheduler.interval.ms": Long = MAX_LONG, None, ReadOnly,
        "How often the flusher checks whether a log needs an fsync.";
    "log.flush.offset.checkpoint.interval.ms": Int = "60000", AtLeast(0), ReadOnly,
        "How often the recovery point of each log is checkpointed.";
    "log.flush.start.offset.checkpoint.interval.ms": Int = "60000", AtLeast(0), ReadOnly,
        "How often the log start offset of each log is checkpointed.";
    "log.segment.delete.delay.ms": Long = "60000", AtLeast(0), ClusterWide,
        "Default for topic file.delete.delay.ms.";
    "log.preallocate": Boolean = "false", None, ClusterWide,
        "Default for topic preallocate.";
    "log.message.timestamp.type": String = "CreateTime", OneOf(&["CreateTime", "LogAppendTime"]), ClusterWide,
        "Default for topic message.timestamp.type.";
    "log.message.timestamp.before.max.ms": Long = MAX_LONG, AtLeast(0), ClusterWide,
        "Default for topic message.timestamp.before.max.ms.";
    "log.message.timestamp.after.max.ms": Long = "3600000", AtLeast(0), ClusterWide,
        "Default for topic message.timestamp.after.max.ms.";
    "log.message.downconversion.enable": Boolean = "true", None, ClusterWide,
        "Default for topic message.downconversion.enable; has no effect since Kafka 4.0.";
    "log.local.retention.ms": Long = "-2", AtLeast(-2), ClusterWide,
        "Default for topic local.retention.ms.";
    "log.local.retention.bytes": Long = "-2", AtLeast(-2), ClusterWide,
        "Default for topic local.retention.bytes.";
    "log.dir.failure.timeout.ms": Long = "30000", AtLeast(1), ReadOnly,
        "How long a broker keeps running after failing to report a failed log directory to the controller.";
    "num.recovery.threads.per.data.dir": Int = "2", AtLeast(1), ClusterWide,
        "Threads per data directory that recover logs at start-up and flush them at shutdown.";
    "remote.log.storage.system.enable": Boolean = "false", None, ReadOnly,
        "Enable tiered storage on this broker.";

    // --- Log cleaner (compaction) ---
    "log.cleaner.enable": Boolean = "true", None, ReadOnly,
        "Run the log cleaner, which compacts topics with the compact policy.";
    "log.cleaner.threads": Int = "1", AtLeast(0), ClusterWide,
        "Threads compacting logs.";
    "log.cleaner.io.max.bytes.per.second": Double = MAX_DOUBLE, None, ClusterWide,
        "Read plus write rate limit of the log cleaner.";
    "log.cleaner.dedupe.buffer.size": Long = "134217728", None, ClusterWide,
        "Memory for key deduplication, shared by all cleaner threads.";
    "log.cleaner.io.buffer.size": Int = "524288", AtLeast(0), ClusterWide,
        "I/O buffer memory, shared by all cleaner threads.";
    "log.cleaner.io.buffer.load.factor": Double = "0.9", None, ClusterWide,
        "How full the deduplication hash table may get.";
    "log.cleaner.backoff.ms": Long = "15000", AtLeast(0), ClusterWide,
        "Sleep of the cleaner when no log needs cleaning.";
    "log.cleaner.min.cleanable.ratio": Double = "0.5", Between(0, 1), ClusterWide,
        "Default for topic min.cleanable.dirty.ratio.";
    "log.cleaner.delete.retention.ms": Long = "86400000", AtLeast(0), ClusterWide,
        "Default for topic delete.retention.ms.";
    "log.cleaner.min.compaction.lag.ms": Long = "0", AtLeast(0), ClusterWide,
        "Default for topic min.compaction.lag.ms.";
    "log.cleaner.max.compaction.lag.ms": Long = MAX_LONG, AtLeast(1), ClusterWide,
        "Default for topic max.compaction.lag.ms.";

    // --- Replication ---
    "replica.lag.time.max.ms": Long = "30000", None, ReadOnly,
        "A follower that has not caught up to the leader's end for this long is removed from the ISR.";
    "replica.socket.timeout.ms": Int = "30000", None, ReadOnly,
        "Socket timeout of follower fetch requests.";
    "replica.socket.receive.buffer.bytes": Int = "65536", None, ReadOnly,
        "SO_RCVBUF of follower fetch connections.";
    "replica.fetch.max.bytes": Int = "1048576", AtLeast(0), ReadOnly,
        "Bytes a follower asks for per partition (a larger first batch is still returned).";
    "replica.fetch.wait.max.ms": Int = "500", None, ReadOnly,
        "Longest a follower fetch waits for data; keep below replica.lag.time.max.ms.";
    "replica.fetch.min.bytes": Int = "1", None, ReadOnly,
        "Bytes a follower fetch waits for before the leader answers.";
    "replica.fetch.backoff.ms": Int = "1000", AtLeast(0), ReadOnly,
        "Pause after a failed follower fetch.";
    "replica.fetch.response.max.bytes": Int = "10485760", AtLeast(0), ReadOnly,
        "Bytes a follower asks for in a whole fetch response.";
    "replica.high.watermark.checkpoint.interval.ms": Long = "5000", None, ReadOnly,
        "How often high watermarks are saved to disk.";
    "replica.selector.class": String = null, None, ReadOnly,
        "Class choosing the replica a consumer should fetch from; unset means always the leader.";
    "num.replica.fetchers": Int = "1", None, ClusterWide,
        "Follower fetcher threads per source broker.";
    "num.replica.alter.log.dirs.threads": Int = null, None, ReadOnly,
        "Threads moving replicas between log directories; defaults to the number of directories.";
    "fetch.purgatory.purge.interval.requests": Int = "1000", None, ReadOnly,
        "Purge interval, in requests, of the delayed fetch queue.";
    "producer.purgatory.purge.interval.requests": Int = "1000", None, ReadOnly,
        "Purge interval, in requests, of the delayed produce queue.";
    "delete.records.purgatory.purge.interval.requests": Int = "1", None, ReadOnly,
        "Purge interval, in requests, of the delayed delete-records queue.";
    "auto.leader.rebalance.enable": Boolean = "true", None, ReadOnly,
        "Periodically move leadership back to preferred replicas.";
    "leader.imbalance.per.broker.percentage": Int = "10", None, ReadOnly,
        "Share of non-preferred leaders on a broker that triggers a rebalance.";
    "leader.imbalance.check.interval.seconds": Long = "300", AtLeast(1), ReadOnly,
        "How often leader balance is checked.";
    "inter.broker.protocol.version": String = "4.0-IV3", None, ReadOnly,
        "Inter-broker protocol version; in KRaft mode the metadata version feature decides instead.";

    // --- Fetch and request limits ---
    "fetch.max.bytes": Int = "57671680", AtLeast(1024), ReadOnly,
        "Most bytes returned by one consumer fetch.";
    "max.incremental.fetch.session.cache.slots": Int = "1000", AtLeast(0), ReadOnly,
        "Incremental fetch sessions the broker keeps.";
    "max.request.partition.size.limit": Int = "2000", AtLeast(1), ReadOnly,
        "Most partitions one request may name.";

    // --- Group coordinator and offsets ---
    "group.coordinator.rebalance.protocols": List = "classic,consumer", ListOf(&["classic", "consumer", "share", "streams"]), ReadOnly,
        "Group rebalance protocols the coordinator accepts.";
    "group.coordinator.threads": Int = "4", AtLeast(1), ReadOnly,
        "Threads of the group coordinator.";
    "group.initial.rebalance.delay.ms": Int = "3000", None, ReadOnly,
        "How long the coordinator waits for more members before the first rebalance of a new classic group.";
    "group.min.session.timeout.ms": Int = "6000", None, ReadOnly,
        "Smallest session timeout a classic group member may ask for.";
    "group.max.session.timeout.ms": Int = "1800000", None, ReadOnly,
        "Largest session timeout a classic group member may ask for.";
    "group.max.size": Int = MAX_INT, AtLeast(1), ReadOnly,
        "Most members of one classic group.";
    "group.consumer.session.timeout.ms": Int = "45000", AtLeast(1), ReadOnly,
        "Session timeout of members of consumer-protocol groups.";
    "group.consumer.min.session.timeout.ms": Int = "45000", AtLeast(1), ReadOnly,
        "Smallest session timeout a consumer-protocol group may be configured with.";
    "group.consumer.max.session.timeout.ms": Int = "60000", AtLeast(1), ReadOnly,
        "Largest session timeout a consumer-protocol group may be configured with.";
    "group.consumer.heartbeat.interval.ms": Int = "5000", AtLeast(1), ReadOnly,
        "Heartbeat interval given to members of consumer-protocol groups.";
    "group.consumer.min.heartbeat.interval.ms": Int = "5000", AtLeast(1), ReadOnly,
        "Smallest heartbeat interval a consumer-protocol group may be configured with.";
    "group.consumer.max.heartbeat.interval.ms": Int = "15000", AtLeast(1), ReadOnly,
        "Largest heartbeat interval a consumer-protocol group may be configured with.";
    "group.consumer.max.size": Int = MAX_INT, AtLeast(1), ReadOnly,
        "Most members of one consumer-protocol group.";
    "group.consumer.assignors": List = "uniform,range", None, ReadOnly,
        "Server-side assignors of consumer-protocol groups; the first is the default.";
    "group.consumer.migration.policy": String = "bidirectional", OneOfIgnoreCase(&["disabled", "upgrade", "downgrade", "bidirectional"]), ReadOnly,
        "Which conversions between classic and consumer-protocol groups are allowed for non-empty groups.";
    "offsets.topic.num.partitions": Int = "50", AtLeast(1), ReadOnly,
        "Partitions of __consumer_offsets; must not change after it exists.";
    "offsets.topic.replication.factor": Short = "3", AtLeast(1), ReadOnly,
        "Replication factor of __consumer_offsets; creating it fails until enough brokers exist.";
    "offsets.topic.segment.bytes": Int = "104857600", AtLeast(1), ReadOnly,
        "Segment size of __consumer_offsets, kept small for fast compaction and loading.";
    "offsets.topic.compression.codec": Int = "0", None, ReadOnly,
        "Compression codec id used when writing to __consumer_offsets.";
    "offsets.load.buffer.size": Int = "5242880", AtLeast(1), ReadOnly,
        "Read batch size when loading __consumer_offsets.";
    "offsets.retention.minutes": Int = "10080", AtLeast(1), ReadOnly,
        "How long committed offsets of an empty group (or of a standalone consumer) are kept.";
    "offsets.retention.check.interval.ms": Long = "600000", AtLeast(1), ReadOnly,
        "How often expired offsets are looked for.";
    "offsets.commit.timeout.ms": Int = "5000", AtLeast(1), ReadOnly,
        "How long an offset commit waits for the offsets topic replicas.";
    "offset.metadata.max.bytes": Int = "4096", None, ReadOnly,
        "Largest metadata string allowed with a committed offset.";

    // --- Transactions and producer ids ---
    "transaction.state.log.num.partitions": Int = "50", AtLeast(1), ReadOnly,
        "Partitions of __transaction_state; must not change after it exists.";
    "transaction.state.log.replication.factor": Short = "3", AtLeast(1), ReadOnly,
        "Replication factor of __transaction_state.";
    "transaction.state.log.min.isr": Int = "2", AtLeast(1), ReadOnly,
        "min.insync.replicas of __transaction_state.";
    "transaction.state.log.segment.bytes": Int = "104857600", AtLeast(1), ReadOnly,
        "Segment size of __transaction_state.";
    "transaction.state.log.load.buffer.size": Int = "5242880", AtLeast(1), ReadOnly,
        "Read batch size when loading __transaction_state.";
    "transaction.max.timeout.ms": Int = "900000", AtLeast(1), ReadOnly,
        "Largest transaction timeout a producer may ask for.";
    "transactional.id.expiration.ms": Int = "604800000", AtLeast(1), ReadOnly,
        "A transactional id without transaction activity for this long is expired.";
    "transaction.abort.timed.out.transaction.cleanup.interval.ms": Int = "10000", AtLeast(1), ReadOnly,
        "How often timed-out transactions are aborted.";
    "transaction.remove.expired.transaction.cleanup.interval.ms": Int = "3600000", AtLeast(1), ReadOnly,
        "How often expired transactional ids are removed.";
    "transaction.partition.verification.enable": Boolean = "true", None, ClusterWide,
        "Check that a partition was added to the transaction before accepting transactional writes to it.";
    "producer.id.expiration.ms": Int = "86400000", AtLeast(1), ClusterWide,
        "Producer id state of a partition is dropped after this long without writes from it.";

    // --- Security ---
    "authorizer.class.name": String = "", None, ReadOnly,
        "Authorizer implementation; empty means no authorization.";
    "super.users": String = null, None, ReadOnly,
        "Semicolon-separated principals (User:name) that bypass ACL checks.";
    "allow.everyone.if.no.acl.found": Boolean = "false", None, ReadOnly,
        "Whether a resource with no ACLs is open to everyone when an authorizer is set.";
    "principal.builder.class": Class = "org.apache.kafka.common.security.authenticator.DefaultKafkaPrincipalBuilder", None, PerBroker,
        "Class that builds the principal of a connection.";
    "sasl.enabled.mechanisms": List = "GSSAPI", None, PerBroker,
        "SASL mechanisms the broker accepts.";
    "sasl.mechanism.inter.broker.protocol": String = "GSSAPI", None, PerBroker,
        "SASL mechanism used between brokers.";
    "sasl.jaas.config": Password = null, None, PerBroker,
        "JAAS login configuration for SASL connections.";
    "sasl.kerberos.service.name": String = null, None, PerBroker,
        "Kerberos principal name the broker runs as.";
    "sasl.server.max.receive.size": Int = "524288", None, ReadOnly,
        "Largest SASL message accepted before authentication completes.";
    "ssl.client.auth": String = "none", OneOf(&["required", "requested", "none"]), PerBroker,
        "Whether TLS clients must (required), may (requested) or do not (none) present a certificate.";
    "ssl.protocol": String = "TLSv1.3", None, PerBroker,
        "TLS protocol used to create the SSL context.";
    "ssl.enabled.protocols": List = "TLSv1.2,TLSv1.3", None, PerBroker,
        "TLS protocol versions accepted.";
    "ssl.cipher.suites": List = "", None, PerBroker,
        "Cipher suites accepted; empty means the TLS library's defaults.";
    "ssl.endpoint.identification.algorithm": String = "https", None, PerBroker,
        "Host name verification for outgoing TLS connections; empty disables it.";
    "ssl.keystore.type": String = "JKS", None, PerBroker,
        "Format of the key store file.";
    "ssl.keystore.location": String = null, None, PerBroker,
        "Path of the key store holding this broker's certificate and key.";
    "ssl.keystore.password": Password = null, None, PerBroker,
        "Password of the key store.";
    "ssl.key.password": Password = null, None, PerBroker,
        "Password of the private key in the key store.";
    "ssl.keystore.key": Password = null, None, PerBroker,
        "PEM private key given inline instead of a key store file.";
    "ssl.keystore.certificate.chain": Password = null, None, PerBroker,
        "PEM certificate chain given inline instead of a key store file.";
    "ssl.truststore.type": String = "JKS", None, PerBroker,
        "Format of the trust store file.";
    "ssl.truststore.location": String = null, None, PerBroker,
        "Path of the trust store.";
    "ssl.truststore.password": Password = null, None, PerBroker,
        "Password of the trust store.";
    "ssl.truststore.certificates": Password = null, None, PerBroker,
        "PEM trusted certificates given inline instead of a trust store file.";
    "ssl.principal.mapping.rules": String = "DEFAULT", None, ReadOnly,
        "Rules mapping a certificate's distinguished name to a principal name.";
    "delegation.token.secret.key": Password = null, None, ReadOnly,
        "Secret used to sign delegation tokens; tokens are disabled when unset.";
    "password.encoder.secret": Password = null, None, ReadOnly,
        "Secret used to encrypt passwords stored in dynamic configs.";

    // --- Metrics ---
    "metric.reporters": List = "", None, ClusterWide,
        "Classes that receive metrics.";
    "metrics.num.samples": Int = "2", AtLeast(1), ReadOnly,
        "Samples kept to compute each metric.";
    "metrics.sample.window.ms": Long = "30000", AtLeast(1), ReadOnly,
        "Time window of one metric sample.";
    "metrics.recording.level": String = "INFO", OneOf(&["INFO", "DEBUG", "TRACE"]), ReadOnly,
        "Most detailed level of metrics recorded.";
};
