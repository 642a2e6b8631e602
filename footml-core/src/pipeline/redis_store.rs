//! The Redis checkpoint store: checkpoints that every worker sharing a Redis server sees, so
//! that a crashed worker's run resumes on another machine (DESIGN.md, "Scale-out").
//!
//! # Layout
//!
//! All keys of run `ID` carry `{ID}` as a Redis Cluster hash tag, so they live in one slot
//! and one `MULTI` may touch several of them:
//!
//! | key | type | what |
//! |---|---|---|
//! | `footml:{ID}:ckpt:STAGE:CHUNK` | string | the entry: the same header (magic, version, length, CRC-32) as the filesystem store, then the payload |
//! | `footml:{ID}:index` | set | `CHUNK:STAGE` of every entry, for [`CheckpointStore::list`] |
//! | `footml:{ID}:lock` | string | the random token of the worker running the pipeline |
//!
//! Key parts are checked as the filesystem store checks them (no `{`, `}` or spaces), so the
//! braces delimit the id unambiguously even though ids and stage names may contain `:`.
//!
//! # Why an index and not `SCAN`
//!
//! `KEYS` blocks the server for a walk of the whole keyspace, and `SCAN` still walks all of
//! it (in steps), however few keys match: the database is shared with the Celery broker and
//! with every other run. The index is one set per run whose size is the run's entry count,
//! read with one `SMEMBERS`. It is written in the same `MULTI … EXEC` as the entry and gets
//! the same TTL, refreshed at every write, so it outlives every entry it names; members whose
//! entry has expired are found with `EXISTS` by [`CheckpointStore::list`] and removed.
//!
//! # Expiry and failures
//!
//! Every entry is written with `SET … EX ttl` (`checkpoint_ttl_seconds`, default
//! [`DEFAULT_TTL`]): an abandoned run does not keep its checkpoints in the server's memory for
//! ever. A lost connection, a timeout or a server that is loading or failing over is a
//! [`CheckpointError::Backend`] error, which the engine's retry policy retries (the next
//! request reconnects); a refused request (wrong password, a foreign key of another type) is
//! [`CheckpointError::Rejected`].
//!
//! # The run lock
//!
//! [`CheckpointStore::lock`] sets the lock key with `SET … NX PX lock_ttl` to a random token,
//! so exactly one worker gets it; another gets [`CheckpointError::Locked`]. A thread renews it
//! every third of its TTL (`PEXPIRE`, only while the key still holds this worker's token), so
//! a live worker keeps it however long the run takes, while a crashed worker's lock ends
//! within one TTL ([`DEFAULT_LOCK_TTL`]) and another worker can take the run over. Release
//! deletes the key only if it still holds this worker's token (compare-and-delete in one Lua
//! script), so a worker whose lock expired never deletes its successor's.

use std::sync::Mutex;
use std::time::Duration;

use redis::{Client, Connection, RedisError, RetryMethod};

use super::checkpoint::{CheckpointError, CheckpointKey, CheckpointStore, RunLock, check_part, seal, unseal};
use crate::config::ConfigError;

/// How long entries live when no TTL is configured: long enough for a crashed job to be
/// retried by the task queue, short enough that abandoned runs do not fill the server.
pub const DEFAULT_TTL: Duration = Duration::from_secs(24 * 3600);

/// How long a run lock lives without renewal: how long a crashed worker's run stays locked.
pub const DEFAULT_LOCK_TTL: Duration = Duration::from_secs(30);

/// Sets the lock's TTL again, only while it holds our token (`ARGV[1]`).
const RENEW_SCRIPT: &str =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end";
/// Deletes the lock, only while it holds our token.
const RELEASE_SCRIPT: &str =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end";

/// Connecting gives up after this long (then the engine retries).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// A request gives up after this long: an entry is a chunk of records (hundreds of KB), so a
/// healthy server answers in milliseconds.
const IO_TIMEOUT: Duration = Duration::from_secs(30);

/// Checkpoints in Redis (see the [module docs](self) for the layout).
///
/// One connection per store, opened on first use and reopened after a failure; requests of
/// the threads of one run are serialised on it (a run writes one chunk at a time).
pub struct RedisCheckpointStore {
    client: Client,
    /// `url` with any password hidden, for messages.
    shown_url: String,
    ttl: Duration,
    lock_ttl: Duration,
    conn: Mutex<Option<Connection>>,
}

impl std::fmt::Debug for RedisCheckpointStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisCheckpointStore").field("url", &self.shown_url).field("ttl", &self.ttl).finish()
    }
}

impl RedisCheckpointStore {
    /// A store on the server at `url` (`redis://[user:password@]host[:port][/db]`,
    /// `rediss://` is not built in, `redis+unix:///path`), whose entries expire `ttl` after
    /// their last write ([`DEFAULT_TTL`] when `None`). Nothing is sent until the first
    /// request, so an unreachable server shows up then, as a transient error.
    ///
    /// A URL that cannot be parsed, or a zero TTL, is a [`ConfigError`] naming `redis_url`
    /// or `checkpoint_ttl_seconds` (the config keys this comes from).
    pub fn open(url: &str, ttl: Option<Duration>) -> Result<Self, ConfigError> {
        let shown_url = redact(url);
        let client = Client::open(url).map_err(|e| {
            ConfigError::invalid("", "redis_url", &format!("a redis:// URL ({e})"), format_args!("{shown_url}"))
        })?;
        let ttl = ttl.unwrap_or(DEFAULT_TTL);
        if ttl.as_secs() == 0 {
            return Err(ConfigError::invalid("", "checkpoint_ttl_seconds", "at least 1 second", ttl.as_secs_f64()));
        }
        Ok(RedisCheckpointStore { client, shown_url, ttl, lock_ttl: DEFAULT_LOCK_TTL, conn: Mutex::new(None) })
    }

    /// The URL, with any password replaced by `***`.
    pub fn url(&self) -> &str {
        &self.shown_url
    }

    /// How long entries live after their last write.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// How long a run lock lives without renewal ([`DEFAULT_LOCK_TTL`] unless set): a crashed
    /// worker's run can be taken over after this long. The holder renews it every third of
    /// it, so it must be well above the worst network round trip; at least 3 ms.
    pub fn with_lock_ttl(mut self, ttl: Duration) -> Self {
        self.lock_ttl = ttl.max(Duration::from_millis(3));
        self
    }

    /// The run lock's TTL.
    pub fn lock_ttl(&self) -> Duration {
        self.lock_ttl
    }

    /// Runs `f` on the connection, opening it first when there is none. A failure that
    /// leaves the connection unusable drops it, so the next call (the engine's retry)
    /// reconnects.
    fn with_conn<T>(&self, f: impl FnOnce(&mut Connection) -> redis::RedisResult<T>) -> Result<T, CheckpointError> {
        // A panic while holding the lock leaves at worst a half-used connection, which the
        // next failure replaces.
        let mut guard = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        if guard.is_none() {
            *guard = Some(connect(&self.client).map_err(|e| self.error("connecting", e))?);
        }
        let conn = guard.as_mut().expect("connected above");
        f(conn).map_err(|e| {
            if e.is_unrecoverable_error() || e.is_io_error() || e.is_timeout() {
                *guard = None;
            }
            self.error("request", e)
        })
    }

    fn error(&self, during: &str, e: RedisError) -> CheckpointError {
        let message = format!("redis at {} ({during}): {e}", self.shown_url);
        if is_transient(&e) { CheckpointError::Backend(message) } else { CheckpointError::Rejected(message) }
    }
}

/// A connection with timeouts, so that a hung server becomes an error the engine can retry.
pub(crate) fn connect(client: &Client) -> redis::RedisResult<Connection> {
    let conn = client.get_connection_with_timeout(CONNECT_TIMEOUT)?;
    conn.set_read_timeout(Some(IO_TIMEOUT))?;
    conn.set_write_timeout(Some(IO_TIMEOUT))?;
    Ok(conn)
}

/// Whether the request may succeed later: connection and timeout errors, and servers that are
/// loading, busy or failing over. A failed login is not (the same password fails again).
pub(crate) fn is_transient(e: &RedisError) -> bool {
    if e.kind() == redis::ErrorKind::AuthenticationFailed {
        return false;
    }
    e.is_io_error() || e.is_timeout() || !matches!(e.retry_method(), RetryMethod::NoRetry)
}

/// `url` with the password of its user info (`//user:password@`) replaced by `***`: URLs end
/// up in messages and logs.
fn redact(url: &str) -> String {
    let Some(scheme_end) = url.find("//").map(|i| i + 2) else {
        return url.to_string();
    };
    let rest = &url[scheme_end..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.to_string();
    };
    match rest[..at].find(':') {
        Some(colon) => format!("{}{}:***{}", &url[..scheme_end], &rest[..colon], &rest[at..]),
        None => format!("{}***{}", &url[..scheme_end], &rest[at..]),
    }
}

/// The key of the entry, `footml:{ID}:ckpt:STAGE:CHUNK`.
fn entry_key(key: &CheckpointKey) -> Result<String, CheckpointError> {
    check_part(&key.pipeline_id)?;
    check_part(&key.stage)?;
    Ok(format!("footml:{{{}}}:ckpt:{}:{}", key.pipeline_id, key.stage, key.chunk))
}

/// The index set of run `pipeline_id`, `footml:{ID}:index`.
fn index_key(pipeline_id: &str) -> Result<String, CheckpointError> {
    check_part(pipeline_id)?;
    Ok(format!("footml:{{{pipeline_id}}}:index"))
}

/// The lock of run `pipeline_id`, `footml:{ID}:lock`.
fn lock_key(pipeline_id: &str) -> Result<String, CheckpointError> {
    check_part(pipeline_id)?;
    Ok(format!("footml:{{{pipeline_id}}}:lock"))
}

/// The index member of an entry: the chunk first, so that a stage name with `:` parses back.
fn index_member(key: &CheckpointKey) -> String {
    format!("{}:{}", key.chunk, key.stage)
}

impl CheckpointStore for RedisCheckpointStore {
    fn put(&self, key: &CheckpointKey, data: &[u8]) -> Result<(), CheckpointError> {
        let entry = entry_key(key)?;
        let index = index_key(&key.pipeline_id)?;
        let sealed = seal(data);
        let ttl = self.ttl.as_secs();
        // One transaction: nobody sees the entry without its index member, or the other way
        // round, and both carry the TTL from the moment they exist.
        self.with_conn(|c| {
            redis::pipe()
                .atomic()
                .cmd("SET")
                .arg(&entry)
                .arg(&sealed)
                .arg("EX")
                .arg(ttl)
                .ignore()
                .cmd("SADD")
                .arg(&index)
                .arg(index_member(key))
                .ignore()
                .cmd("EXPIRE")
                .arg(&index)
                .arg(ttl)
                .ignore()
                .query::<()>(c)
        })
    }

    fn get(&self, key: &CheckpointKey) -> Result<Option<Vec<u8>>, CheckpointError> {
        let entry = entry_key(key)?;
        let bytes: Option<Vec<u8>> = self.with_conn(|c| redis::cmd("GET").arg(&entry).query(c))?;
        bytes.map(|b| unseal(key, &b).map(<[u8]>::to_vec)).transpose()
    }

    fn list(&self, pipeline_id: &str) -> Result<Vec<CheckpointKey>, CheckpointError> {
        let index = index_key(pipeline_id)?;
        let members: Vec<String> = self.with_conn(|c| redis::cmd("SMEMBERS").arg(&index).query(c))?;
        let mut keys = Vec::with_capacity(members.len());
        let mut foreign = Vec::new();
        for m in members {
            match m.split_once(':').and_then(|(chunk, stage)| Some((chunk.parse::<u64>().ok()?, stage))) {
                Some((chunk, stage)) if check_part(stage).is_ok() => {
                    keys.push(CheckpointKey::new(pipeline_id, stage, chunk))
                }
                _ => foreign.push(m),
            }
        }
        if keys.is_empty() && foreign.is_empty() {
            return Ok(keys);
        }
        // Entries expire one by one while the index lives on: keep the members whose entry
        // still exists, and drop the others from the index (and members no footml wrote).
        let entries: Vec<String> = keys.iter().map(entry_key).collect::<Result<_, _>>()?;
        let exists: Vec<bool> = self.with_conn(|c| {
            let mut p = redis::pipe();
            for e in &entries {
                p.cmd("EXISTS").arg(e);
            }
            p.query(c)
        })?;
        let (live, expired): (Vec<_>, Vec<_>) = keys.into_iter().zip(exists).partition(|(_, exists)| *exists);
        let stale: Vec<String> = expired.iter().map(|(k, _)| index_member(k)).chain(foreign).collect();
        if !stale.is_empty() {
            self.with_conn(|c| redis::cmd("SREM").arg(&index).arg(&stale).query::<()>(c))?;
        }
        let mut keys: Vec<CheckpointKey> = live.into_iter().map(|(k, _)| k).collect();
        keys.sort();
        Ok(keys)
    }

    fn delete(&self, key: &CheckpointKey) -> Result<(), CheckpointError> {
        let entry = entry_key(key)?;
        let index = index_key(&key.pipeline_id)?;
        self.with_conn(|c| {
            redis::pipe()
                .atomic()
                .cmd("DEL")
                .arg(&entry)
                .ignore()
                .cmd("SREM")
                .arg(&index)
                .arg(index_member(key))
                .ignore()
                .query::<()>(c)
        })
    }

    fn lock(&self, pipeline_id: &str) -> Result<Option<Box<dyn RunLock>>, CheckpointError> {
        let key = lock_key(pipeline_id)?;
        let token = format!("{:032x}", rand::random::<u128>());
        let ttl_ms = self.lock_ttl.as_millis() as u64;
        // The renewing thread gets a connection of its own: the store's may be busy with a
        // large entry for longer than a renewal can wait.
        let mut conn = connect(&self.client).map_err(|e| self.error("connecting", e))?;
        let set: Option<String> = redis::cmd("SET")
            .arg(&key)
            .arg(&token)
            .arg("NX")
            .arg("PX")
            .arg(ttl_ms)
            .query(&mut conn)
            .map_err(|e| self.error("lock", e))?;
        if set.is_none() {
            return Err(CheckpointError::Locked { pipeline_id: pipeline_id.to_string() });
        }
        let (stop, stopped) = crossbeam_channel::bounded::<()>(0);
        let renewer = Renewer {
            client: self.client.clone(),
            shown_url: self.shown_url.clone(),
            key,
            token,
            ttl_ms,
            conn: Some(conn),
        };
        let thread = std::thread::Builder::new()
            .name("footml-redis-lock".into())
            .spawn(move || renewer.run(&stopped))
            .map_err(|e| CheckpointError::Backend(format!("cannot start the lock renewal thread: {e}")))?;
        Ok(Some(Box::new(RedisRunLock { stop: Some(stop), thread: Some(thread) })))
    }
}

/// The held lock: a thread renews it until told to stop, then releases it.
struct RedisRunLock {
    /// Dropping it stops the renewals.
    stop: Option<crossbeam_channel::Sender<()>>,
    thread: Option<std::thread::JoinHandle<Result<(), CheckpointError>>>,
}

impl RedisRunLock {
    fn finish(&mut self) -> Result<(), CheckpointError> {
        drop(self.stop.take());
        match self.thread.take().map(std::thread::JoinHandle::join) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(CheckpointError::Backend("the lock renewal thread panicked".into())),
            None => Ok(()),
        }
    }
}

impl RunLock for RedisRunLock {
    fn release(mut self: Box<Self>) -> Result<(), CheckpointError> {
        self.finish()
    }
}

impl Drop for RedisRunLock {
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

/// The renewing thread's state.
struct Renewer {
    client: Client,
    shown_url: String,
    key: String,
    token: String,
    ttl_ms: u64,
    conn: Option<Connection>,
}

impl Renewer {
    /// Renews every third of the TTL until `stopped` closes, then releases the lock.
    fn run(mut self, stopped: &crossbeam_channel::Receiver<()>) -> Result<(), CheckpointError> {
        let every = Duration::from_millis(self.ttl_ms / 3);
        let mut held = true;
        while let Err(crossbeam_channel::RecvTimeoutError::Timeout) = stopped.recv_timeout(every) {
            if !held {
                continue;
            }
            match self.script(RENEW_SCRIPT, true) {
                Ok(1) => {}
                Ok(_) => {
                    // Expired (renewals failed for a whole TTL) and maybe taken by another
                    // worker: nothing of ours to renew or release any more.
                    tracing::warn!(lock = %self.key, "the run lock expired before it was renewed; another worker may take the run over");
                    held = false;
                }
                // A failed renewal is tried again at the next tick, within the TTL.
                Err(e) => tracing::warn!(lock = %self.key, error = %e, "cannot renew the run lock"),
            }
        }
        if held { self.script(RELEASE_SCRIPT, false).map(|_| ()) } else { Ok(()) }
    }

    /// Runs a lock script with our token (and the TTL when `with_ttl`); reconnects after a
    /// failure that broke the connection.
    fn script(&mut self, script: &str, with_ttl: bool) -> Result<i64, CheckpointError> {
        let url = &self.shown_url;
        let error = |e: RedisError| {
            let message = format!("redis at {url} (run lock): {e}");
            if is_transient(&e) { CheckpointError::Backend(message) } else { CheckpointError::Rejected(message) }
        };
        if self.conn.is_none() {
            self.conn = Some(connect(&self.client).map_err(error)?);
        }
        let conn = self.conn.as_mut().expect("connected above");
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(script).arg(1).arg(&self.key).arg(&self.token);
        if with_ttl {
            cmd.arg(self.ttl_ms);
        }
        let r = cmd.query(conn);
        if let Err(e) = &r
            && (e.is_unrecoverable_error() || e.is_io_error() || e.is_timeout())
        {
            self.conn = None;
        }
        r.map_err(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(redact("redis://:secret@host:6379/0"), "redis://:***@host:6379/0");
        assert_eq!(redact("redis://user:secret@host/1"), "redis://user:***@host/1");
        assert_eq!(redact("redis://token@host"), "redis://***@host");
        assert_eq!(redact("redis://host:6379/0"), "redis://host:6379/0");
        assert_eq!(redact("redis://host/a@b"), "redis://host/a@b");
    }

    #[test]
    fn keys_of_a_run_share_one_hash_tag_and_parse_back() {
        let k = CheckpointKey::new("fm-1:a", "match.teams", 12);
        assert_eq!(entry_key(&k).unwrap(), "footml:{fm-1:a}:ckpt:match.teams:12");
        assert_eq!(index_key("fm-1:a").unwrap(), "footml:{fm-1:a}:index");
        assert_eq!(index_member(&k), "12:match.teams");
        for bad in ["", "a{b", "a}b", "a b", ".x"] {
            let e = entry_key(&CheckpointKey::new(bad, "s", 0)).unwrap_err();
            assert!(matches!(e, CheckpointError::InvalidKey { .. }), "{bad:?}: {e}");
        }
    }

    #[test]
    fn bad_urls_and_ttls_are_config_errors() {
        for url in ["", "http://host", "not a url", "redis://host:notaport"] {
            let e = RedisCheckpointStore::open(url, None).unwrap_err();
            assert!(e.to_string().contains("redis_url"), "{url}: {e}");
        }
        let e = RedisCheckpointStore::open("redis://:pw@localhost:99999", None).unwrap_err();
        assert!(!e.to_string().contains("pw"), "{e}");
        let e = RedisCheckpointStore::open("redis://127.0.0.1:1", Some(Duration::ZERO)).unwrap_err();
        assert!(e.to_string().contains("checkpoint_ttl_seconds"), "{e}");
        let s = RedisCheckpointStore::open("redis://127.0.0.1:1/2", None).unwrap();
        assert_eq!(s.ttl(), DEFAULT_TTL);
    }
}
