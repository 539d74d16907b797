//! The partition's checkpoint file, `gregor-log.checkpoint`: the log start
//! offset (so DeleteRecords survives restart) and the recovery point (the
//! offset below which everything was fsynced, so unclean recovery scans
//! only what follows). One text line, replaced atomically:
//!
//! ```text
//! 1 <log_start_offset> <recovery_point> <crc32c of the text before it, 8 hex digits>
//! ```

use std::io;

use tracing::warn;

use crate::storage::{read_small_file, write_atomically, Storage};

pub(crate) const CHECKPOINT_FILE: &str = "gregor-log.checkpoint";
const CHECKPOINT_MAX_BYTES: u64 = 256;
const VERSION: &str = "1";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Checkpoint {
    pub log_start_offset: i64,
    pub recovery_point: i64,
}

impl Checkpoint {
    pub fn encode(&self) -> String {
        let body = format!(
            "{VERSION} {} {}",
            self.log_start_offset, self.recovery_point
        );
        let crc = crc32c::crc32c(body.as_bytes());
        format!("{body} {crc:08x}\n")
    }

    pub fn decode(text: &str) -> Option<Checkpoint> {
        let line = text.strip_suffix('\n')?;
        let (body, crc) = line.rsplit_once(' ')?;
        if crc.len() != 8 || u32::from_str_radix(crc, 16).ok()? != crc32c::crc32c(body.as_bytes()) {
            return None;
        }
        let mut fields = body.split(' ');
        if fields.next()? != VERSION {
            return None;
        }
        let log_start_offset = fields.next()?.parse().ok()?;
        let recovery_point = fields.next()?.parse().ok()?;
        fields.next().is_none().then_some(Checkpoint {
            log_start_offset,
            recovery_point,
        })
    }

    /// The stored checkpoint; `None` if missing or unreadable (the caller
    /// then assumes the safest values).
    pub fn read(storage: &dyn Storage) -> io::Result<Option<Checkpoint>> {
        let bytes = match read_small_file(storage, CHECKPOINT_FILE, CHECKPOINT_MAX_BYTES) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                warn!(error = %e, "ignoring oversized log checkpoint");
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        let parsed = std::str::from_utf8(&bytes)
            .ok()
            .and_then(Checkpoint::decode);
        if parsed.is_none() {
            warn!("ignoring corrupt log checkpoint");
        }
        Ok(parsed)
    }

    pub fn write(&self, storage: &dyn Storage) -> io::Result<()> {
        write_atomically(storage, CHECKPOINT_FILE, self.encode().as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoint_text_is_pinned_and_checked() {
        let c = Checkpoint {
            log_start_offset: 5,
            recovery_point: 120,
        };
        let text = c.encode();
        let crc = crc32c::crc32c(b"1 5 120");
        assert_eq!(text, format!("1 5 120 {crc:08x}\n"));
        assert_eq!(Checkpoint::decode(&text), Some(c));
        assert_eq!(Checkpoint::decode(&text.replace("120", "121")), None);
        assert_eq!(Checkpoint::decode(&text[..text.len() - 1]), None);
        assert_eq!(Checkpoint::decode(""), None);
    }
}
