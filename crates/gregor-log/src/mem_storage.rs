//! [`Storage`] in memory, for fast deterministic tests. Clones share the
//! same files, so "reopening a directory" is cloning the storage; dropping
//! a `Log` without `close` leaves exactly what it wrote, like a process
//! crash (the page cache survives, unsynced data included).

use std::collections::BTreeMap;
use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use crate::storage::{MappedFile, SegmentFile, SharedFile, Storage};

type Data = Arc<RwLock<Vec<u8>>>;

/// An in-memory partition directory.
#[derive(Debug, Clone, Default)]
pub struct MemStorage {
    files: Arc<Mutex<BTreeMap<String, Data>>>,
    fail_appends: Arc<AtomicBool>,
}

impl MemStorage {
    pub fn new() -> MemStorage {
        MemStorage::default()
    }

    /// Makes every later append fail after writing half its bytes, to test
    /// that failed writes are undone. Fault injection for tests.
    pub fn set_fail_appends(&self, fail: bool) {
        self.fail_appends.store(fail, Ordering::SeqCst);
    }

    fn files(&self) -> MutexGuard<'_, BTreeMap<String, Data>> {
        // A panic in another test thread must not cascade; the map itself
        // is always consistent between operations.
        self.files
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn not_found(name: &str) -> io::Error {
        io::Error::new(io::ErrorKind::NotFound, format!("{name}: no such file"))
    }
}

impl Storage for MemStorage {
    fn open(&self, name: &str) -> io::Result<Box<dyn SegmentFile>> {
        let data = self
            .files()
            .get(name)
            .cloned()
            .ok_or_else(|| MemStorage::not_found(name))?;
        Ok(Box::new(MemFile {
            data,
            fail_appends: self.fail_appends.clone(),
        }))
    }

    fn map(&self, name: &str) -> io::Result<Arc<dyn MappedFile>> {
        let data = self
            .files()
            .get(name)
            .cloned()
            .ok_or_else(|| MemStorage::not_found(name))?;
        let copy = data
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        Ok(Arc::new(MemMapped(copy)))
    }

    fn create(&self, name: &str) -> io::Result<Box<dyn SegmentFile>> {
        let data: Data = Arc::default();
        self.files().insert(name.to_string(), data.clone());
        Ok(Box::new(MemFile {
            data,
            fail_appends: self.fail_appends.clone(),
        }))
    }

    fn list(&self) -> io::Result<Vec<String>> {
        Ok(self.files().keys().cloned().collect())
    }

    fn remove(&self, name: &str) -> io::Result<()> {
        self.files().remove(name);
        Ok(())
    }

    fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        let mut files = self.files();
        let data = files
            .remove(from)
            .ok_or_else(|| MemStorage::not_found(from))?;
        files.insert(to.to_string(), data);
        Ok(())
    }

    fn sync_dir(&self) -> io::Result<()> {
        Ok(())
    }

    fn remove_all(&self) -> io::Result<()> {
        self.files().clear();
        Ok(())
    }
}

struct MemFile {
    data: Data,
    fail_appends: Arc<AtomicBool>,
}

impl MemFile {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Vec<u8>> {
        self.data
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Vec<u8>> {
        self.data
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl SegmentFile for MemFile {
    fn read_at(&self, pos: u64, buf: &mut [u8]) -> io::Result<usize> {
        Ok(copy_at(&self.read(), pos, buf))
    }

    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        let mut data = self.write();
        if self.fail_appends.load(Ordering::SeqCst) {
            data.extend_from_slice(&bytes[..bytes.len() / 2]);
            return Err(io::Error::other("injected append failure"));
        }
        data.extend_from_slice(bytes);
        Ok(())
    }

    fn len(&self) -> u64 {
        self.read().len() as u64
    }

    fn truncate(&mut self, len: u64) -> io::Result<()> {
        let mut data = self.write();
        let len = usize::try_from(len).unwrap_or(usize::MAX).min(data.len());
        data.truncate(len);
        Ok(())
    }

    fn sync(&self) -> io::Result<()> {
        Ok(())
    }

    fn shared(&self) -> Arc<dyn SharedFile> {
        Arc::new(MemShared(self.data.clone()))
    }
}

/// [`MappedFile`] in memory: a copy of the file's bytes when mapped.
struct MemMapped(Vec<u8>);

impl MappedFile for MemMapped {
    fn bytes(&self) -> &[u8] {
        &self.0
    }
}

/// [`SharedFile`] over the same bytes as a [`MemFile`].
struct MemShared(Data);

impl SharedFile for MemShared {
    fn read_at(&self, pos: u64, buf: &mut [u8]) -> io::Result<usize> {
        let data = self
            .0
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Ok(copy_at(&data, pos, buf))
    }

    fn sync(&self) -> io::Result<()> {
        Ok(())
    }

    fn raw_fd(&self) -> Option<RawFd> {
        None
    }
}

/// Positional read out of a file's bytes; short only at the end.
fn copy_at(data: &[u8], pos: u64, buf: &mut [u8]) -> usize {
    let start = usize::try_from(pos).unwrap_or(usize::MAX).min(data.len());
    let n = buf.len().min(data.len() - start);
    buf[..n].copy_from_slice(&data[start..start + n]);
    n
}
