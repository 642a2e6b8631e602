//! The Redis checkpoint store against a real `redis-server` (Debian's, installed by
//! scripts/setup.sh), started by each test on a free loopback port and killed at its end.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use footml::pipeline::checkpoint::CheckpointError;
use footml::pipeline::events::{ChannelSink, EventKind, FnSink};
use footml::{
    CancellationToken, CheckpointKey, CheckpointStore, ErrorKind, Pipeline, PipelineConfig, PipelineEvent,
    RedisCheckpointStore,
};

use crate::common::{fixture_detections_config, started_from};

/// A `redis-server` of this test's own: no persistence, its files in a temporary directory,
/// killed when dropped.
pub(crate) struct RedisServer {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl RedisServer {
    /// A server on a free port. Ports are drawn below the kernel's ephemeral range
    /// (32768–60999 here), so that no outgoing connection holds one (nor can a client's
    /// connect to a port nobody listens on yet become a TCP self-connection on it); a port
    /// that turns out to be taken is replaced by another.
    pub(crate) fn start() -> RedisServer {
        let mut failures = Vec::new();
        for _ in 0..8 {
            match Self::try_start(rand::random_range(20_000..32_000)) {
                Ok(server) => return server,
                Err(e) => failures.push(e),
            }
        }
        panic!("redis-server did not start: {failures:#?}");
    }

    fn start_on(port: u16) -> RedisServer {
        Self::try_start(port).unwrap()
    }

    fn try_start(port: u16) -> Result<RedisServer, String> {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("redis.log");
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(dir.path())
            .arg("--logfile")
            .arg(&log)
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server (Debian package redis-server, installed by scripts/setup.sh)");
        let mut server = RedisServer { child, port, _dir: dir };
        let start = Instant::now();
        loop {
            if let Some(status) = server.child.try_wait().unwrap() {
                let log = std::fs::read_to_string(&log).unwrap_or_default();
                return Err(format!("port {port}: redis-server exited ({status}): {log}"));
            }
            // Timeouts everywhere: whatever answers on the port, the wait never hangs. The
            // answer must come from this child, not from another test's server on the port.
            let info = server
                .connect(Duration::from_millis(500))
                .and_then(|mut c| redis::cmd("INFO").arg("server").query::<String>(&mut c));
            if let Ok(info) = info {
                if info.lines().any(|l| l.trim() == format!("process_id:{}", server.child.id())) {
                    return Ok(server);
                }
                return Err(format!("port {port}: another redis-server answered"));
            }
            if start.elapsed() > Duration::from_secs(10) {
                return Err(format!("port {port}: redis-server did not answer PING"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    fn client(&self) -> redis::Client {
        redis::Client::open(self.url()).unwrap()
    }

    fn connect(&self, timeout: Duration) -> redis::RedisResult<redis::Connection> {
        let c = self.client().get_connection_with_timeout(timeout)?;
        c.set_read_timeout(Some(Duration::from_secs(5)))?;
        Ok(c)
    }

    /// A raw connection, to look at (or damage) what the store wrote.
    pub(crate) fn conn(&self) -> redis::Connection {
        self.connect(Duration::from_secs(5)).unwrap()
    }

    fn store(&self, ttl: Option<Duration>) -> RedisCheckpointStore {
        RedisCheckpointStore::open(&self.url(), ttl).unwrap()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn query<T: redis::FromRedisValue>(c: &mut redis::Connection, args: &[&str]) -> T {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query(c).unwrap()
}

#[test]
fn put_get_list_delete_round_trip() {
    let server = RedisServer::start();
    let store = server.store(None);
    let k0 = CheckpointKey::new("run-1", "stream", 0);
    let k1 = CheckpointKey::new("run-1", "stream", 1);
    let m = CheckpointKey::new("run-1", "match.team:classification", 0);
    let other = CheckpointKey::new("run-1:x", "stream", 0);
    assert_eq!(store.get(&k0).unwrap(), None);
    assert_eq!(store.list("run-1").unwrap(), vec![]);
    store.put(&k1, b"second").unwrap();
    store.put(&k0, b"first").unwrap();
    store.put(&m, &[0u8, 255, 1, 254]).unwrap();
    store.put(&other, b"other").unwrap();
    store.put(&k0, b"first, replaced").unwrap();
    assert_eq!(store.get(&k0).unwrap().as_deref(), Some(&b"first, replaced"[..]));
    assert_eq!(store.get(&m).unwrap(), Some(vec![0u8, 255, 1, 254]));
    // Sorted like every store's list; `run-1:x` (which contains the other id) is not in it.
    assert_eq!(store.list("run-1").unwrap(), vec![m.clone(), k0.clone(), k1.clone()]);
    assert_eq!(store.list("run-1:x").unwrap(), vec![other.clone()]);
    // A second store object (another worker) sees the same entries.
    let second = server.store(None);
    assert_eq!(second.get(&k1).unwrap().as_deref(), Some(&b"second"[..]));
    store.delete(&k0).unwrap();
    store.delete(&k0).unwrap();
    assert_eq!(second.list("run-1").unwrap(), vec![m.clone(), k1.clone()]);
    store.delete(&k1).unwrap();
    store.delete(&m).unwrap();
    store.delete(&other).unwrap();
    // Nothing is left behind, not even the emptied indexes.
    let mut c = server.conn();
    assert_eq!(query::<u64>(&mut c, &["DBSIZE"]), 0);
    let e = store.put(&CheckpointKey::new("a}b", "s", 0), b"x").unwrap_err();
    assert!(matches!(e, CheckpointError::InvalidKey { .. }), "{e}");
}

#[test]
fn entries_and_their_index_carry_the_ttl() {
    let server = RedisServer::start();
    let store = server.store(Some(Duration::from_secs(120)));
    let key = CheckpointKey::new("ttl-run", "stream", 3);
    store.put(&key, b"payload").unwrap();
    let mut c = server.conn();
    for k in ["footml:{ttl-run}:ckpt:stream:3", "footml:{ttl-run}:index"] {
        let ttl: i64 = query(&mut c, &["TTL", k]);
        assert!((110..=120).contains(&ttl), "{k}: TTL {ttl}");
    }
    // The default when no TTL is configured: a day.
    server.store(None).put(&key, b"payload").unwrap();
    let ttl: i64 = query(&mut c, &["TTL", "footml:{ttl-run}:ckpt:stream:3"]);
    assert!((86_390..=86_400).contains(&ttl), "TTL {ttl}");

    // An entry that expired drops out of the list (and of the index) while the others stay.
    store.put(&CheckpointKey::new("ttl-run", "stream", 4), b"later").unwrap();
    let _: i64 = query(&mut c, &["PEXPIRE", "footml:{ttl-run}:ckpt:stream:3", "1"]);
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(store.list("ttl-run").unwrap(), vec![CheckpointKey::new("ttl-run", "stream", 4)]);
    let members: Vec<String> = query(&mut c, &["SMEMBERS", "footml:{ttl-run}:index"]);
    assert_eq!(members, vec!["4:stream".to_string()]);
}

#[test]
fn damaged_entries_are_corrupt() {
    let server = RedisServer::start();
    let store = server.store(None);
    let key = CheckpointKey::new("run", "stream", 2);
    store.put(&key, &[7u8; 100]).unwrap();
    let mut c = server.conn();
    let entry = "footml:{run}:ckpt:stream:2";
    let good: Vec<u8> = query(&mut c, &["GET", entry]);
    let mut flipped = good.clone();
    flipped[60] ^= 1;
    let truncated = good[..good.len() - 10].to_vec();
    for (what, bytes) in [("garbage", b"not a checkpoint".to_vec()), ("flip", flipped), ("truncate", truncated)] {
        let _: () = redis::cmd("SET").arg(entry).arg(bytes).query(&mut c).unwrap();
        let e = store.get(&key).unwrap_err();
        assert!(matches!(e, CheckpointError::Corrupt { .. }), "{what}: {e}");
        assert!(!e.is_transient(), "{what}");
    }
    // A foreign value of another type in the entry's place is refused, not retried.
    let _: () = redis::cmd("DEL").arg(entry).query(&mut c).unwrap();
    let _: () = redis::cmd("LPUSH").arg(entry).arg("x").query(&mut c).unwrap();
    let e = store.get(&key).unwrap_err();
    assert!(matches!(e, CheckpointError::Rejected(_)) && !e.is_transient(), "{e}");
}

#[test]
fn a_server_that_is_down_is_a_transient_error_and_a_restart_heals_it() {
    let server = RedisServer::start();
    let url = server.url();
    let store = server.store(None);
    let key = CheckpointKey::new("run", "stream", 0);
    store.put(&key, b"x").unwrap();
    drop(server);
    let errors = [
        store.put(&key, b"y").unwrap_err(),
        store.get(&key).unwrap_err(),
        store.list("run").unwrap_err(),
        store.delete(&key).unwrap_err(),
    ];
    for e in errors {
        assert!(matches!(e, CheckpointError::Backend(_)), "{e}");
        assert!(e.is_transient(), "{e}");
        assert!(e.to_string().contains(&url), "{e}");
        assert!(footml::Error::from(e).is_transient());
    }
    // The server comes back (empty: it keeps nothing on disk): the same store object
    // reconnects, which is what the engine's retries of a transient error count on.
    let port: u16 = url.rsplit(':').next().unwrap().trim_end_matches("/0").parse().unwrap();
    let again = RedisServer::start_on(port);
    store.put(&key, b"z").unwrap();
    assert_eq!(store.get(&key).unwrap().as_deref(), Some(&b"z"[..]));
    drop(again);
    // The whole pipeline: a run on a dead server fails with a transient checkpoint error.
    let mut config = detections_config("dead-server", 50);
    config.redis_url = Some(url);
    let e = Pipeline::from_config(&config).unwrap().run().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Checkpoint, "{e}");
    assert!(e.is_transient(), "{e}");
}

#[test]
fn bad_redis_urls_are_config_errors() {
    let mut config = detections_config("bad-url", 50);
    config.redis_url = Some("http://:hunter2@127.0.0.1/".into());
    let e = Pipeline::builder_from_config(&config).err().unwrap();
    assert_eq!(e.kind(), ErrorKind::Config, "{e}");
    let msg = e.to_string();
    assert!(msg.contains("redis_url") && !msg.contains("hunter2"), "{msg}");
    config.redis_url = Some("redis://127.0.0.1/".into());
    config.checkpoint_ttl_seconds = Some(0);
    let e = Pipeline::builder_from_config(&config).err().unwrap();
    assert!(e.to_string().contains("checkpoint_ttl_seconds"), "{e}");
}

fn detections_config(id: &str, interval: u64) -> PipelineConfig {
    PipelineConfig { pipeline_id: Some(id.into()), checkpoint_interval_frames: interval, ..fixture_detections_config() }
}

/// The report as JSON without its timings, which differ between runs.
fn comparable(r: &footml::MatchReport) -> serde_json::Value {
    let mut v = serde_json::to_value(r).unwrap();
    for s in v["stages"].as_array_mut().unwrap() {
        s["duration_s"] = serde_json::json!(0);
    }
    v
}

/// A worker runs the fixture with the Redis store and is cancelled after 3 chunks; a second
/// worker (a new pipeline, a new store object, the same server) resumes after the saved
/// chunks, and its report equals an uninterrupted run's.
#[test]
fn a_second_worker_resumes_a_cancelled_run_to_the_same_report() {
    let server = RedisServer::start();
    let clean = Pipeline::from_config(&detections_config("redis-resume", 50)).unwrap().run().unwrap();
    assert_eq!(clean.video.frame_count, Some(1000));

    let mut config = detections_config("redis-resume", 50);
    config.redis_url = Some(server.url());
    let token = CancellationToken::new();
    let saved = Arc::new(AtomicU32::new(0));
    let (cancel, count) = (token.clone(), saved.clone());
    let first = Pipeline::builder_from_config(&config)
        .unwrap()
        .cancellation_token(token)
        // 500 frames/s: the run takes 2 s, and is cancelled at its third chunk (0.3 s).
        .pace(20.0)
        .event_sink(FnSink(move |e: &PipelineEvent| {
            if matches!(e.kind, EventKind::CheckpointSaved { .. }) && count.fetch_add(1, Ordering::SeqCst) + 1 == 3 {
                cancel.cancel();
            }
        }))
        .build()
        .unwrap()
        .run();
    assert_eq!(first.unwrap_err().kind(), ErrorKind::Cancelled);
    // The cancelled worker let go of the run.
    assert_eq!(query::<u64>(&mut server.conn(), &["EXISTS", "footml:{redis-resume}:lock"]), 0);
    let worker2 = RedisCheckpointStore::open(&server.url(), None).unwrap();
    let chunks = worker2.list("redis-resume").unwrap().into_iter().filter(|k| k.stage == "stream").count() as u64;
    assert!(chunks >= 3, "{chunks} stream chunks in Redis");

    let (tx, rx) = crossbeam_channel::unbounded();
    let resumed = Pipeline::builder_from_config(&config).unwrap().event_sink(ChannelSink(tx)).build().unwrap().run();
    let resumed = resumed.unwrap();
    assert_eq!(comparable(&resumed), comparable(&clean));
    let events: Vec<PipelineEvent> = rx.try_iter().collect();
    let from = started_from(&events, "player_tracking");
    assert_eq!(from, vec![chunks * 50], "resumed after the saved chunks");
    // Success removes the run's checkpoints (and its index) from the server.
    let mut c = server.conn();
    let left: Vec<String> = query(&mut c, &["KEYS", "footml:*"]);
    assert!(left.is_empty(), "{left:?}");
}

/// A pipeline on the fixture with the Redis store of `server`, reading 1000 frames at
/// `speed` × 25 fps (so that it is still running while the test looks).
fn locked_run(server: &RedisServer, id: &str, speed: Option<f64>) -> footml::Result<footml::MatchReport> {
    let mut config = detections_config(id, 250);
    config.redis_url = Some(server.url());
    let mut b = Pipeline::builder_from_config(&config).unwrap();
    if let Some(speed) = speed {
        b = b.pace(speed);
    }
    b.build().unwrap().run()
}

fn wait_for_key(server: &RedisServer, key: &str) {
    let mut c = server.conn();
    let start = Instant::now();
    while query::<u64>(&mut c, &["EXISTS", key]) == 0 {
        assert!(start.elapsed() < Duration::from_secs(30), "{key} never appeared");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Two workers start the same pipeline: the second is refused with a typed, transient
/// `Busy` error naming the pipeline while the first runs on to its report; once the first
/// has ended the pipeline can be run again.
#[test]
fn a_second_worker_cannot_run_a_pipeline_that_is_running() {
    let server = RedisServer::start();
    std::thread::scope(|s| {
        // 1000 frames at 250 frames/s: 4 s.
        let first = s.spawn(|| locked_run(&server, "busy-run", Some(10.0)));
        wait_for_key(&server, "footml:{busy-run}:lock");
        let e = locked_run(&server, "busy-run", None).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Busy, "{e}");
        assert!(e.is_transient(), "{e}");
        assert!(e.to_string().contains("`busy-run`"), "{e}");
        assert!(!first.is_finished(), "the first run ended before the second was refused");
        // Another pipeline is not blocked by it.
        locked_run(&server, "other-run", None).unwrap();
        let report = first.join().unwrap().unwrap();
        assert_eq!(report.video.frame_count, Some(1000));
    });
    assert_eq!(query::<u64>(&mut server.conn(), &["EXISTS", "footml:{busy-run}:lock"]), 0);
    locked_run(&server, "busy-run", None).unwrap();
}

/// The holder's thread renews the lock for as long as it holds it (here 5 TTLs), release
/// frees it at once, and releases only its own lock.
#[test]
fn a_held_lock_is_renewed_and_released_only_by_its_holder() {
    let server = RedisServer::start();
    let ttl = Duration::from_millis(300);
    let store = server.store(None).with_lock_ttl(ttl);
    let other = server.store(None).with_lock_ttl(ttl);
    let lock = store.lock("renewed").unwrap().expect("the Redis store has locks");
    std::thread::sleep(ttl * 5);
    let e = other.lock("renewed").err().unwrap();
    assert!(matches!(&e, CheckpointError::Locked { pipeline_id } if pipeline_id == "renewed"), "{e}");
    let mut c = server.conn();
    let pttl: i64 = query(&mut c, &["PTTL", "footml:{renewed}:lock"]);
    assert!(pttl > 0 && pttl <= 300, "PTTL {pttl}");
    lock.release().unwrap();
    assert_eq!(query::<u64>(&mut c, &["EXISTS", "footml:{renewed}:lock"]), 0);
    let second = other.lock("renewed").unwrap().unwrap();

    // A holder whose lock was lost (it expired; now another worker's token is in it) leaves
    // the new holder's lock alone when it releases.
    let _: () = redis::cmd("SET").arg("footml:{renewed}:lock").arg("someone-else").query(&mut c).unwrap();
    second.release().unwrap();
    let token: String = query(&mut c, &["GET", "footml:{renewed}:lock"]);
    assert_eq!(token, "someone-else");
}

/// A crashed worker leaves its lock behind, unrenewed: the run is refused until the lock's
/// TTL has passed, then another worker runs it.
#[test]
fn a_crashed_holders_lock_expires_after_its_ttl() {
    let server = RedisServer::start();
    let mut c = server.conn();
    // What a worker killed with SIGKILL leaves: its token with the rest of its TTL.
    let _: () = redis::cmd("SET")
        .arg("footml:{crashed}:lock")
        .arg("dead-worker-token")
        .arg("PX")
        .arg(700)
        .query(&mut c)
        .unwrap();
    let e = locked_run(&server, "crashed", None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Busy, "{e}");
    std::thread::sleep(Duration::from_millis(800));
    let report = locked_run(&server, "crashed", None).unwrap();
    assert_eq!(report.video.frame_count, Some(1000));
    assert_eq!(query::<u64>(&mut c, &["EXISTS", "footml:{crashed}:lock"]), 0);
}
