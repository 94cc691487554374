//! Where the parser reads files: the main file of [`super::parse_file_from`] and every
//! `include`. [`FileSystem`] is the real one (what [`super::parse_file`] and
//! [`super::parse_str`] use); [`MemoryFiles`] holds a few files in memory, so tests and the
//! fuzzer can run includes without touching the disk.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::error::{go_path_error, FileOp};

/// A set of files the parser can read.
pub trait Files {
    /// The contents of the file at `path`, the name as the parser resolved it (Go's
    /// `filepath.Join` of the including file's directory and the included name, so
    /// `a.conf` or `sub/a.conf`, not canonicalised). The error is the message to report, in
    /// Go's words: `open a.conf: no such file or directory`.
    fn read(&self, path: &Path) -> Result<Vec<u8>, String>;
}

/// The real file system: paths are opened as they are (relative to the working directory).
#[derive(Clone, Copy, Debug, Default)]
pub struct FileSystem;

impl Files for FileSystem {
    fn read(&self, path: &Path) -> Result<Vec<u8>, String> {
        let mut file =
            std::fs::File::open(path).map_err(|err| go_path_error(FileOp::Open, path, &err))?;
        let mut data = Vec::new();
        file.read_to_end(&mut data)
            .map_err(|err| go_path_error(FileOp::Read, path, &err))?;
        Ok(data)
    }
}

/// Files held in memory, found by their exact path; any other path is missing.
#[derive(Clone, Debug, Default)]
pub struct MemoryFiles {
    files: BTreeMap<PathBuf, Vec<u8>>,
}

impl MemoryFiles {
    /// An empty set.
    pub fn new() -> Self {
        MemoryFiles::default()
    }

    /// Adds (or replaces) the file at `path`.
    pub fn insert(&mut self, path: impl Into<PathBuf>, contents: impl Into<Vec<u8>>) {
        self.files.insert(path.into(), contents.into());
    }
}

impl Files for MemoryFiles {
    fn read(&self, path: &Path) -> Result<Vec<u8>, String> {
        self.files
            .get(path)
            .cloned()
            .ok_or_else(|| format!("open {}: no such file or directory", path.display()))
    }
}
