//! [`Storage`] on a real directory, with positional I/O (`pread`/`pwrite`)
//! so that reads never move a shared cursor and hit the page cache.

use std::fs::{self, File, OpenOptions};
use std::io::{self, IoSlice};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::storage::{MappedFile, SegmentFile, SharedFile, Storage};

/// A partition directory on disk. Cheap to share: holds only the path.
#[derive(Debug, Clone)]
pub struct FileStorage {
    dir: PathBuf,
}

impl FileStorage {
    /// Uses `dir`, creating it (and its parents) if missing.
    pub fn open(dir: &Path) -> io::Result<FileStorage> {
        fs::create_dir_all(dir)?;
        Ok(FileStorage {
            dir: dir.to_path_buf(),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, name: &str) -> io::Result<PathBuf> {
        // Names come from the log itself; refusing separators keeps a bug
        // from ever touching files outside the partition directory.
        if name.is_empty() || name.contains('/') || name == "." || name == ".." {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("bad file name {name:?}"),
            ));
        }
        Ok(self.dir.join(name))
    }
}

impl Storage for FileStorage {
    fn open(&self, name: &str) -> io::Result<Box<dyn SegmentFile>> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(self.path(name)?)?;
        let len = file.metadata()?.len();
        Ok(Box::new(DiskFile {
            file: Arc::new(file),
            len,
        }))
    }

    fn map(&self, name: &str) -> io::Result<Arc<dyn MappedFile>> {
        let file = File::open(self.path(name)?)?;
        if file.metadata()?.len() == 0 {
            // mmap refuses empty files; an empty view needs no mapping.
            return Ok(Arc::new(Mapped(None)));
        }
        // SAFETY: the log maps only files it has stopped writing (sealed
        // indexes) and, before it writes one again, drops the map and works
        // on a copy; nothing else in the process truncates them. The map
        // outlives `file`, which is closed on return.
        let map = unsafe { memmap2::Mmap::map(&file)? };
        Ok(Arc::new(Mapped(Some(map))))
    }

    fn create(&self, name: &str) -> io::Result<Box<dyn SegmentFile>> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(self.path(name)?)?;
        Ok(Box::new(DiskFile {
            file: Arc::new(file),
            len: 0,
        }))
    }

    fn list(&self) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in fs::read_dir(&self.dir)? {
            let entry = entry?;
            if entry.file_type()?.is_file() {
                if let Some(name) = entry.file_name().to_str() {
                    names.push(name.to_string());
                }
            }
        }
        Ok(names)
    }

    fn remove(&self, name: &str) -> io::Result<()> {
        match fs::remove_file(self.path(name)?) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            other => other,
        }
    }

    fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        fs::rename(self.path(from)?, self.path(to)?)
    }

    fn sync_dir(&self) -> io::Result<()> {
        File::open(&self.dir)?.sync_all()
    }

    fn remove_all(&self) -> io::Result<()> {
        match fs::remove_dir_all(&self.dir) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            other => other,
        }
    }
}

/// A read-only memory map of a whole file (`None` for an empty file).
struct Mapped(Option<memmap2::Mmap>);

impl MappedFile for Mapped {
    fn bytes(&self) -> &[u8] {
        self.0.as_deref().unwrap_or(&[])
    }
}

/// Most iovecs one `pwritev` takes (Linux's `IOV_MAX`).
const IOV_MAX: usize = 1024;

/// One open file. The length is tracked here so appends are positional
/// writes at a known offset rather than `O_APPEND` writes.
struct DiskFile {
    file: Arc<File>,
    len: u64,
}

impl SharedFile for File {
    fn read_at(&self, pos: u64, buf: &mut [u8]) -> io::Result<usize> {
        FileExt::read_at(self, buf, pos)
    }

    fn sync(&self) -> io::Result<()> {
        self.sync_data()
    }

    fn raw_fd(&self) -> Option<RawFd> {
        Some(self.as_raw_fd())
    }
}

impl DiskFile {
    /// Part of a failed write may have landed; learn the real length so the
    /// caller's truncate-to-undo starts from the truth.
    fn after_failed_write(&mut self, error: io::Error) -> io::Error {
        if let Ok(meta) = self.file.metadata() {
            self.len = meta.len();
        }
        error
    }
}

impl SegmentFile for DiskFile {
    fn read_at(&self, pos: u64, buf: &mut [u8]) -> io::Result<usize> {
        FileExt::read_at(&*self.file, buf, pos)
    }

    fn append(&mut self, data: &[u8]) -> io::Result<()> {
        match self.file.write_all_at(data, self.len) {
            Ok(()) => {
                self.len += data.len() as u64;
                Ok(())
            }
            Err(e) => Err(self.after_failed_write(e)),
        }
    }

    fn append_vectored(&mut self, parts: &[&[u8]]) -> io::Result<()> {
        let mut slices: Vec<IoSlice<'_>> = parts
            .iter()
            .filter(|p| !p.is_empty())
            .map(|p| IoSlice::new(p))
            .collect();
        let mut left = &mut slices[..];
        let mut written = 0u64;
        while !left.is_empty() {
            let count = left.len().min(IOV_MAX) as libc::c_int;
            let at = libc::off_t::try_from(self.len + written)
                .map_err(|_| io::Error::other("file offset out of range"))?;
            // SAFETY: `IoSlice` is ABI-compatible with `iovec` on Unix, the
            // slices borrow live buffers, and `count` is within `left`.
            let n = unsafe {
                libc::pwritev(
                    self.file.as_raw_fd(),
                    left.as_ptr().cast::<libc::iovec>(),
                    count,
                    at,
                )
            };
            match usize::try_from(n) {
                Ok(0) => return Err(self.after_failed_write(io::ErrorKind::WriteZero.into())),
                Ok(n) => {
                    written += n as u64;
                    IoSlice::advance_slices(&mut left, n);
                }
                Err(_) => {
                    let e = io::Error::last_os_error();
                    if e.kind() != io::ErrorKind::Interrupted {
                        return Err(self.after_failed_write(e));
                    }
                }
            }
        }
        self.len += written;
        Ok(())
    }

    fn len(&self) -> u64 {
        self.len
    }

    fn truncate(&mut self, len: u64) -> io::Result<()> {
        if len >= self.len {
            return Ok(());
        }
        self.file.set_len(len)?;
        self.len = len;
        Ok(())
    }

    fn sync(&self) -> io::Result<()> {
        self.file.sync_data()
    }

    fn shared(&self) -> Arc<dyn SharedFile> {
        self.file.clone()
    }
}
