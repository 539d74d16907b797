//! The log directory's own files: `meta.properties` (cluster and node id, as
//! Kafka writes it) and the clean-shutdown marker.

use std::fs;
use std::io::Write;
use std::path::Path;

use crate::error::BrokerError;

const META_PROPERTIES: &str = "meta.properties";
/// Kafka's marker name, so operators recognise it.
const CLEAN_SHUTDOWN_MARKER: &str = ".kafka_cleanshutdown";

fn io_err(dir: &Path) -> impl FnOnce(std::io::Error) -> BrokerError + '_ {
    move |source| BrokerError::LogDir {
        dir: dir.display().to_string(),
        source,
    }
}

/// Creates the directory if needed and returns its cluster id, writing a
/// new `meta.properties` on first use. A directory formatted for another
/// node id is refused, as Kafka refuses it.
pub fn prepare(dir: &Path, node_id: i32) -> Result<String, BrokerError> {
    fs::create_dir_all(dir).map_err(io_err(dir))?;
    let path = dir.join(META_PROPERTIES);
    if let Ok(text) = fs::read_to_string(&path) {
        let get = |key: &str| {
            text.lines()
                .filter_map(|l| l.split_once('='))
                .find(|(k, _)| k.trim() == key)
                .map(|(_, v)| v.trim().to_string())
        };
        if let Some(stored) = get("node.id").and_then(|v| v.parse::<i32>().ok()) {
            if stored != node_id {
                return Err(BrokerError::Config(format!(
                    "{} belongs to node.id {stored}, but this broker is node.id {node_id}",
                    path.display()
                )));
            }
        }
        if let Some(id) = get("cluster.id") {
            return Ok(id);
        }
    }
    let cluster_id = new_cluster_id();
    let body = format!(
        "#\n#Written by gregor\ncluster.id={cluster_id}\ndirectory.id={}\nnode.id={node_id}\nversion=1\n",
        short_uuid(uuid::Uuid::new_v4())
    );
    let tmp = dir.join("meta.properties.tmp");
    let mut f = fs::File::create(&tmp).map_err(io_err(dir))?;
    f.write_all(body.as_bytes())
        .and_then(|_| f.sync_all())
        .map_err(io_err(dir))?;
    fs::rename(&tmp, &path).map_err(io_err(dir))?;
    Ok(cluster_id)
}

/// Kafka's cluster ids are 16 random bytes in URL-safe base64 without padding.
fn new_cluster_id() -> String {
    short_uuid(uuid::Uuid::new_v4())
}

fn short_uuid(id: uuid::Uuid) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let bytes = id.as_bytes();
    let mut out = String::with_capacity(22);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for b in bytes {
        acc = (acc << 8) | u32::from(*b);
        bits += 8;
        while bits >= 6 {
            bits -= 6;
            out.push(ALPHABET[((acc >> bits) & 63) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((acc << (6 - bits)) & 63) as usize] as char);
    }
    out
}

/// True if the last shutdown was clean; removes the marker, so that a crash
/// from now on is detected at the next start.
pub fn take_clean_shutdown_marker(dir: &Path) -> Result<bool, BrokerError> {
    let path = dir.join(CLEAN_SHUTDOWN_MARKER);
    if !path.exists() {
        return Ok(false);
    }
    fs::remove_file(&path).map_err(io_err(dir))?;
    // The removal must be durable before we write anything the marker would vouch for.
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir))?;
    Ok(true)
}

pub fn write_clean_shutdown_marker(dir: &Path) -> Result<(), BrokerError> {
    let path = dir.join(CLEAN_SHUTDOWN_MARKER);
    fs::File::create(&path)
        .and_then(|f| f.sync_all())
        .map_err(io_err(dir))?;
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_id_is_kept_and_node_id_checked() {
        let dir = tempfile::tempdir().unwrap();
        let id = prepare(dir.path(), 1).unwrap();
        assert_eq!(id.len(), 22);
        assert_eq!(prepare(dir.path(), 1).unwrap(), id);
        assert!(prepare(dir.path(), 2).is_err());
    }

    #[test]
    fn marker_is_taken_once() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!take_clean_shutdown_marker(dir.path()).unwrap());
        write_clean_shutdown_marker(dir.path()).unwrap();
        assert!(take_clean_shutdown_marker(dir.path()).unwrap());
        assert!(!take_clean_shutdown_marker(dir.path()).unwrap());
    }
}
