//! Checkpoint stores: where finished work is kept so that a crash costs one chunk, not the
//! match.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Errors of a checkpoint store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// Reading or writing the store failed.
    #[error("checkpoint store I/O at {}: {source}", path.display())]
    Io {
        /// File or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// An entry exists but is damaged (truncated, wrong checksum, undecodable).
    #[error("checkpoint {key} is corrupt: {reason}")]
    Corrupt {
        /// The entry.
        key: CheckpointKey,
        /// What is wrong with it.
        reason: String,
    },
    /// A pipeline id or stage name cannot be used as a key.
    #[error("invalid checkpoint key part `{part}`: {reason}")]
    InvalidKey {
        /// The offending part.
        part: String,
        /// Why.
        reason: &'static str,
    },
    /// A backend (e.g. a network store) failed in a way that may pass.
    #[error("checkpoint backend: {0}")]
    Backend(String),
    /// A backend refused a request in a way that retrying cannot fix (a wrong password, a key
    /// of another type in its place).
    #[error("checkpoint backend refused the request: {0}")]
    Rejected(String),
    /// Another worker holds the lock of this run ([`CheckpointStore::lock`]): it is running
    /// the same pipeline now. Transient: once that worker ends (or its lock expires after a
    /// crash), the run can go on, so a task queue may retry it later.
    #[error(
        "pipeline `{pipeline_id}` is being run by another worker (its lock is held in the checkpoint store); \
         retry once that run ends or its lock expires"
    )]
    Locked {
        /// The run.
        pipeline_id: String,
    },
}

impl CheckpointError {
    /// Whether retrying may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            CheckpointError::Io { source, .. } => matches!(
                source.kind(),
                std::io::ErrorKind::Interrupted | std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
            ),
            CheckpointError::Backend(_) | CheckpointError::Locked { .. } => true,
            _ => false,
        }
    }
}

/// Identifies one stored entry: the output of `stage` for `chunk` of run `pipeline_id`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CheckpointKey {
    /// The run.
    pub pipeline_id: String,
    /// The stage (or engine part) that owns the entry.
    pub stage: String,
    /// Chunk number from 0.
    pub chunk: u64,
}

impl CheckpointKey {
    /// A key.
    pub fn new(pipeline_id: &str, stage: &str, chunk: u64) -> Self {
        CheckpointKey { pipeline_id: pipeline_id.into(), stage: stage.into(), chunk }
    }
}

impl std::fmt::Display for CheckpointKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}", self.pipeline_id, self.stage, self.chunk)
    }
}

/// Stores serialized stage outputs. Implementations must make `put` atomic: a reader sees
/// either the old entry, the new one, or none — never a partial write.
pub trait CheckpointStore: Send + Sync {
    /// Stores `data` under `key`, replacing any previous entry.
    fn put(&self, key: &CheckpointKey, data: &[u8]) -> Result<(), CheckpointError>;
    /// Loads an entry; `Ok(None)` when absent, `Err(Corrupt)` when damaged.
    fn get(&self, key: &CheckpointKey) -> Result<Option<Vec<u8>>, CheckpointError>;
    /// Every key of a run, sorted.
    fn list(&self, pipeline_id: &str) -> Result<Vec<CheckpointKey>, CheckpointError>;
    /// Removes an entry (absent is not an error).
    fn delete(&self, key: &CheckpointKey) -> Result<(), CheckpointError>;

    /// Takes the lock of run `pipeline_id` for as long as the returned guard lives, so that
    /// no other worker sharing this store runs the same pipeline at the same time (the engine
    /// takes it before a run reads any checkpoint and releases it after the last write, also
    /// when the run fails or is cancelled). [`CheckpointError::Locked`] when another holder
    /// has it. `Ok(None)`: this store has no locks, which is right for stores that only one
    /// process sees (memory; files on a local disk), and is the default.
    fn lock(&self, pipeline_id: &str) -> Result<Option<Box<dyn RunLock>>, CheckpointError> {
        let _ = pipeline_id;
        Ok(None)
    }
}

/// A held run lock ([`CheckpointStore::lock`]). Dropping it releases it too, without a
/// word on failure; [`RunLock::release`] says whether the release worked.
pub trait RunLock: Send {
    /// Releases the lock now. An error means the store could not be told; the lock then
    /// ends by itself when its time runs out.
    fn release(self: Box<Self>) -> Result<(), CheckpointError>;
}

/// Checkpoints kept in memory (tests, short-lived services).
#[derive(Debug, Default)]
pub struct MemoryCheckpointStore {
    entries: Mutex<BTreeMap<CheckpointKey, Vec<u8>>>,
}

impl MemoryCheckpointStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<CheckpointKey, Vec<u8>>> {
        // A panic while holding the lock cannot leave the map half-updated (each operation
        // is a single insert/remove), so a poisoned lock is still usable.
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl CheckpointStore for MemoryCheckpointStore {
    fn put(&self, key: &CheckpointKey, data: &[u8]) -> Result<(), CheckpointError> {
        self.lock().insert(key.clone(), data.to_vec());
        Ok(())
    }
    fn get(&self, key: &CheckpointKey) -> Result<Option<Vec<u8>>, CheckpointError> {
        Ok(self.lock().get(key).cloned())
    }
    fn list(&self, pipeline_id: &str) -> Result<Vec<CheckpointKey>, CheckpointError> {
        Ok(self.lock().keys().filter(|k| k.pipeline_id == pipeline_id).cloned().collect())
    }
    fn delete(&self, key: &CheckpointKey) -> Result<(), CheckpointError> {
        self.lock().remove(key);
        Ok(())
    }
}

const MAGIC: &[u8; 4] = b"FMCK";
const FORMAT_VERSION: u32 = 1;
const HEADER_LEN: usize = 4 + 4 + 8 + 4;

/// Checkpoints as files: `ROOT/<pipeline_id>/<stage>/<chunk>.ckpt`.
///
/// Each file is a header (magic, format version, payload length, CRC-32 of the payload)
/// and the payload. Writes go to a temporary file that is fsynced and renamed over the
/// target, then the directory is fsynced, so a crash leaves the old entry or the new one.
/// Loads verify length and checksum and report damage as [`CheckpointError::Corrupt`].
#[derive(Debug, Clone)]
pub struct FsCheckpointStore {
    root: PathBuf,
}

impl FsCheckpointStore {
    /// A store under `root` (created on first write).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        FsCheckpointStore { root: root.into() }
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn dir(&self, pipeline_id: &str, stage: &str) -> Result<PathBuf, CheckpointError> {
        check_part(pipeline_id)?;
        check_part(stage)?;
        Ok(self.root.join(pipeline_id).join(stage))
    }

    fn path(&self, key: &CheckpointKey) -> Result<PathBuf, CheckpointError> {
        Ok(self.dir(&key.pipeline_id, &key.stage)?.join(format!("{:010}.ckpt", key.chunk)))
    }
}

/// The header of a stored entry: magic, format version, payload length, CRC-32 of the payload.
fn header(data: &[u8]) -> Vec<u8> {
    let mut header = Vec::with_capacity(HEADER_LEN);
    header.extend_from_slice(MAGIC);
    header.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    header.extend_from_slice(&(data.len() as u64).to_le_bytes());
    header.extend_from_slice(&crc32fast::hash(data).to_le_bytes());
    header
}

/// `data` behind its [`header`]: what every persistent store keeps, so that a damaged or
/// foreign value is recognised on load whatever the backend.
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
pub(crate) fn seal(data: &[u8]) -> Vec<u8> {
    let mut bytes = header(data);
    bytes.extend_from_slice(data);
    bytes
}

/// The payload of a sealed entry, checked against its header ([`CheckpointError::Corrupt`]
/// when truncated, foreign, of another format version or failing its checksum).
pub(crate) fn unseal<'a>(key: &CheckpointKey, bytes: &'a [u8]) -> Result<&'a [u8], CheckpointError> {
    let corrupt = |reason: String| CheckpointError::Corrupt { key: key.clone(), reason };
    if bytes.len() < HEADER_LEN || &bytes[..4] != MAGIC {
        return Err(corrupt("not a footml checkpoint (bad header)".into()));
    }
    let version = u32::from_le_bytes(bytes[4..8].try_into().expect("4 bytes"));
    if version != FORMAT_VERSION {
        return Err(corrupt(format!("format version {version}, expected {FORMAT_VERSION}")));
    }
    let len = u64::from_le_bytes(bytes[8..16].try_into().expect("8 bytes"));
    let crc = u32::from_le_bytes(bytes[16..20].try_into().expect("4 bytes"));
    let payload = &bytes[HEADER_LEN..];
    if payload.len() as u64 != len {
        return Err(corrupt(format!("payload is {} bytes, header says {len}", payload.len())));
    }
    if crc32fast::hash(payload) != crc {
        return Err(corrupt("checksum mismatch".into()));
    }
    Ok(payload)
}

/// Checks that a pipeline id or stage name is safe in a file path or a Redis key: ASCII
/// letters, digits, `-`, `_`, `.`, `:`, not empty and not starting with a dot.
pub(crate) fn check_part(part: &str) -> Result<(), CheckpointError> {
    let bad = |reason| Err(CheckpointError::InvalidKey { part: part.to_string(), reason });
    if part.is_empty() {
        return bad("empty");
    }
    if part == "." || part == ".." || part.starts_with('.') {
        return bad("must not start with a dot");
    }
    if !part.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':')) {
        return bad("only ASCII letters, digits, '-', '_', '.', ':' are allowed");
    }
    Ok(())
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CheckpointError + '_ {
    move |source| CheckpointError::Io { path: path.to_path_buf(), source }
}

impl CheckpointStore for FsCheckpointStore {
    fn put(&self, key: &CheckpointKey, data: &[u8]) -> Result<(), CheckpointError> {
        let path = self.path(key)?;
        let dir = path.parent().expect("checkpoint paths have a parent");
        fs::create_dir_all(dir).map_err(io(dir))?;
        let tmp = dir.join(format!(".{:010}.{}.tmp", key.chunk, std::process::id()));
        let header = header(data);
        {
            let mut f = File::create(&tmp).map_err(io(&tmp))?;
            f.write_all(&header).map_err(io(&tmp))?;
            f.write_all(data).map_err(io(&tmp))?;
            f.sync_all().map_err(io(&tmp))?;
        }
        fs::rename(&tmp, &path).map_err(io(&path))?;
        // Make the rename itself durable.
        File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))?;
        Ok(())
    }

    fn get(&self, key: &CheckpointKey) -> Result<Option<Vec<u8>>, CheckpointError> {
        let path = self.path(key)?;
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(&path)(e)),
        };
        Ok(Some(unseal(key, &bytes)?.to_vec()))
    }

    fn list(&self, pipeline_id: &str) -> Result<Vec<CheckpointKey>, CheckpointError> {
        check_part(pipeline_id)?;
        let run = self.root.join(pipeline_id);
        let mut keys = Vec::new();
        let stages = match fs::read_dir(&run) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(keys),
            Err(e) => return Err(io(&run)(e)),
        };
        for stage in stages {
            let stage = stage.map_err(io(&run))?;
            let Some(stage_name) = stage.file_name().to_str().map(str::to_string) else {
                continue;
            };
            if !stage.path().is_dir() {
                continue;
            }
            let sdir = stage.path();
            for entry in fs::read_dir(&sdir).map_err(io(&sdir))? {
                let entry = entry.map_err(io(&sdir))?;
                let name = entry.file_name();
                let Some(chunk) = name.to_str().and_then(|n| n.strip_suffix(".ckpt")).and_then(|n| n.parse().ok())
                else {
                    continue;
                };
                keys.push(CheckpointKey::new(pipeline_id, &stage_name, chunk));
            }
        }
        keys.sort();
        Ok(keys)
    }

    fn delete(&self, key: &CheckpointKey) -> Result<(), CheckpointError> {
        let path = self.path(key)?;
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io(&path)(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(store: &dyn CheckpointStore) {
        let k0 = CheckpointKey::new("run-1", "stream", 0);
        let k1 = CheckpointKey::new("run-1", "stream", 1);
        let other = CheckpointKey::new("run-2", "stream", 0);
        assert_eq!(store.get(&k0).unwrap(), None);
        store.put(&k0, b"first").unwrap();
        store.put(&k1, b"second").unwrap();
        store.put(&other, b"other").unwrap();
        store.put(&k0, b"first, replaced").unwrap();
        assert_eq!(store.get(&k0).unwrap().as_deref(), Some(&b"first, replaced"[..]));
        assert_eq!(store.list("run-1").unwrap(), vec![k0.clone(), k1.clone()]);
        store.delete(&k0).unwrap();
        store.delete(&k0).unwrap();
        assert_eq!(store.list("run-1").unwrap(), vec![k1]);
        assert_eq!(store.list("nothing").unwrap(), vec![]);
    }

    #[test]
    fn memory_store_roundtrip() {
        roundtrip(&MemoryCheckpointStore::new());
    }

    #[test]
    fn fs_store_roundtrip_leaves_no_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsCheckpointStore::new(dir.path());
        roundtrip(&store);
        let names: Vec<_> =
            fs::read_dir(dir.path().join("run-1/stream")).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from("0000000001.ckpt")]);
    }

    #[test]
    fn fs_store_detects_every_kind_of_damage() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsCheckpointStore::new(dir.path());
        let key = CheckpointKey::new("run", "stream", 3);
        let payload = vec![7u8; 100];
        store.put(&key, &payload).unwrap();
        let file = dir.path().join("run/stream/0000000003.ckpt");
        let good = fs::read(&file).unwrap();

        let mut flipped = good.clone();
        flipped[HEADER_LEN + 50] ^= 1;
        let truncated = good[..good.len() - 10].to_vec();
        let mut bad_magic = good.clone();
        bad_magic[0] = b'X';
        for (what, bytes) in [("flip", flipped), ("truncate", truncated), ("magic", bad_magic), ("empty", vec![])] {
            fs::write(&file, &bytes).unwrap();
            let e = store.get(&key).unwrap_err();
            assert!(matches!(e, CheckpointError::Corrupt { .. }), "{what}: {e}");
        }
        fs::write(&file, &good).unwrap();
        assert_eq!(store.get(&key).unwrap(), Some(payload));
    }

    #[test]
    fn unsafe_key_parts_are_rejected() {
        let store = FsCheckpointStore::new("/nonexistent");
        for bad in ["", "..", "../etc", "a/b", ".hidden"] {
            let e = store.put(&CheckpointKey::new(bad, "s", 0), b"x").unwrap_err();
            assert!(matches!(e, CheckpointError::InvalidKey { .. }), "{bad:?}: {e}");
        }
    }
}
