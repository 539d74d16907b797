//! The process's open-file limit. Every segment keeps its log file open
//! (index files are memory-mapped or held in memory, never kept open), so a
//! broker with thousands of partitions needs far more than the soft limit
//! of 1,024 many systems start processes with. Like the JVM
//! under Kafka (`-XX:+MaxFDLimit`, on by default), the broker raises its
//! soft limit to the hard limit at start; only the hard limit needs setting
//! by the operator.

use std::io;

/// RLIMIT_NOFILE as it stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenFilesLimit {
    pub soft: u64,
    pub hard: u64,
}

/// The current open-file limit.
pub fn current() -> io::Result<OpenFilesLimit> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes the struct it is given.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(OpenFilesLimit {
        soft: limit.rlim_cur,
        hard: limit.rlim_max,
    })
}

/// Raises the soft open-file limit to the hard limit and returns the limit
/// now in force. Process-wide: called once by the binary at start.
pub fn raise_to_hard_limit() -> io::Result<OpenFilesLimit> {
    let limit = current()?;
    if limit.soft >= limit.hard {
        return Ok(limit);
    }
    let raised = libc::rlimit {
        rlim_cur: limit.hard,
        rlim_max: limit.hard,
    };
    // SAFETY: setrlimit only reads the struct it is given.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } != 0 {
        return Err(io::Error::last_os_error());
    }
    current()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raising_leaves_the_soft_limit_at_the_hard_limit() {
        let before = current().unwrap();
        let after = raise_to_hard_limit().unwrap();
        assert_eq!(after.hard, before.hard);
        assert_eq!(after.soft, after.hard);
    }
}
