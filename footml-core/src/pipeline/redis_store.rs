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

use std::sync::Mutex;
use std::time::Duration;

use redis::{Client, Connection, RedisError, RetryMethod};

use super::checkpoint::{CheckpointError, CheckpointKey, CheckpointStore, check_part, seal, unseal};
use crate::config::ConfigError;

/// How long entries live when no TTL is configured: long enough for a crashed job to be
/// retried by the task queue, short enough that abandoned runs do not fill the server.
pub const DEFAULT_TTL: Duration = Duration::from_secs(24 * 3600);

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
        Ok(RedisCheckpointStore { client, shown_url, ttl, conn: Mutex::new(None) })
    }

    /// The URL, with any password replaced by `***`.
    pub fn url(&self) -> &str {
        &self.shown_url
    }

    /// How long entries live after their last write.
    pub fn ttl(&self) -> Duration {
        self.ttl
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
