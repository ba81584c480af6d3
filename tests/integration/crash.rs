//! Whole-store crash safety (issue 13): concurrent PUT, multipart, copy, versioned
//! overwrite and DELETE traffic against a durable `coffer`, SIGKILLed at random moments and
//! restarted, many times. After every restart:
//!
//! - every acknowledged write reads back byte-identical, with its metadata, and every
//!   acknowledged delete stays deleted;
//! - a write in flight at the kill is either absent or complete (never torn);
//! - every acknowledged version of a versioned key still reads back by its id.
//!
//! At the end, after a graceful stop, `coffer fsck` finds every refcount right and every
//! referenced chunk present and sound; the only findings allowed are unreferenced chunk
//! files, which fsck collects.
//!
//! Each worker owns its keys, so one key's operations are sequential and the model is
//! exact: a key's state is its last acknowledged one, or the one its in-flight operation
//! (at most one) was writing. The CI run makes [`CI_KILLS`] kills; the long run is
//! `COFFER_CRASH_KILLS=500 cargo nextest run -p coffer-server --test integration crash`
//! (`COFFER_CRASH_SEED` replays a run; the seed is printed).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{BucketVersioningStatus, CompletedMultipartUpload, CompletedPart};

use crate::common::versions::set_versioning;
use crate::common::{ROOT_ACCESS_KEY, ROOT_SECRET_KEY, TestEnv, create_bucket, fsck, get};

/// Kills in the CI run.
const CI_KILLS: usize = 20;
/// Rounds between two checks of every acknowledged version.
const FULL_CHECK_EVERY: usize = 25;
const WORKERS: usize = 4;
const KEYS_PER_WORKER: usize = 6;
const PLAIN: &str = "crash-plain";
const VERSIONED: &str = "crash-versioned";
/// Above the 5 MiB part minimum; bodies also cross the 1 MiB chunk size now and then.
const PART: usize = 5 * 1024 * 1024 + 17;

/// xorshift64*: deterministic from the printed seed, no dependency.
#[derive(Clone)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The body of generation `generation` of a key: its length and bytes follow from it, so
/// a read is checked against the generation its metadata names.
fn body_of(generation: u64, len: usize) -> Vec<u8> {
    let mut rng = Rng(generation.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        out.extend_from_slice(&rng.next().to_le_bytes());
    }
    out.truncate(len);
    out
}

/// What a key holds (or a version is): a generation and its length, or nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Absent,
    Body { generation: u64, len: usize },
}

/// One key, as its owner saw it.
#[derive(Debug)]
struct Key {
    bucket: &'static str,
    name: String,
    acked: State,
    /// What an operation in flight at the kill was writing.
    pending: Option<State>,
    /// Versioned keys: every acknowledged version id and what it holds.
    versions: BTreeMap<String, State>,
    /// Versions acknowledged since the last check, read back after the next restart.
    fresh: Vec<String>,
}

/// A worker's keys, carried from round to round.
struct Worker {
    id: usize,
    rng: Rng,
    keys: Vec<Key>,
    generation: u64,
}

enum Op {
    Put { len: usize },
    Multipart,
    Copy { from: usize },
    Delete,
}

impl Worker {
    fn new(id: usize, seed: u64) -> Worker {
        let keys = (0..KEYS_PER_WORKER)
            .map(|k| Key {
                bucket: if k % 2 == 0 { PLAIN } else { VERSIONED },
                name: format!("w{id}/k{k}"),
                acked: State::Absent,
                pending: None,
                versions: BTreeMap::new(),
                fresh: Vec::new(),
            })
            .collect();
        Worker {
            id,
            rng: Rng(seed ^ (id as u64 + 1).wrapping_mul(0xA24B_AED4_963E_E407)),
            keys,
            generation: 0,
        }
    }

    fn next_generation(&mut self) -> u64 {
        self.generation += 1;
        (self.id as u64) << 48 | self.generation
    }

    fn pick_op(&mut self, k: usize) -> Op {
        let roll = self.rng.below(100);
        let source = (0..KEYS_PER_WORKER)
            .map(|i| (i + self.rng.below(KEYS_PER_WORKER as u64) as usize) % KEYS_PER_WORKER)
            .find(|&i| {
                i != k
                    && self.keys[i].pending.is_none()
                    && matches!(self.keys[i].acked, State::Body { .. })
            });
        match (roll, source) {
            (0..=4, _) => Op::Multipart,
            (5..=19, Some(from)) => Op::Copy { from },
            (20..=34, _) => Op::Delete,
            // Mostly small bodies; now and then one of several chunks.
            (35..=44, _) => Op::Put {
                len: 1024 * 1024 + self.rng.below(2 * 1024 * 1024) as usize,
            },
            _ => Op::Put {
                len: self.rng.below(64 * 1024) as usize,
            },
        }
    }

    /// Runs operations until `stop`; the one in flight when the server dies is left
    /// pending.
    async fn run(&mut self, s3: &Client, stop: &AtomicBool) {
        while !stop.load(Ordering::Relaxed) {
            let k = self.rng.below(KEYS_PER_WORKER as u64) as usize;
            if self.keys[k].pending.is_some() {
                // Its state is unknown until the next restart settles it.
                continue;
            }
            let op = self.pick_op(k);
            let generation = self.next_generation();
            let target = match op {
                Op::Put { len } => State::Body { generation, len },
                Op::Multipart => State::Body {
                    generation,
                    len: PART + 1000,
                },
                Op::Copy { from } => self.keys[from].acked,
                Op::Delete => State::Absent,
            };
            self.keys[k].pending = Some(target);
            let key = &self.keys[k];
            let result = match op {
                Op::Put { len } => put(s3, key, generation, len).await,
                Op::Multipart => multipart(s3, key, generation).await,
                Op::Copy { from } => copy(s3, &self.keys[from], key).await,
                Op::Delete => delete(s3, key).await,
            };
            let key = &mut self.keys[k];
            match result {
                Ok(version) => {
                    key.acked = target;
                    key.pending = None;
                    if let Some(version) = version.filter(|_| key.bucket == VERSIONED) {
                        key.fresh.push(version.clone());
                        key.versions.insert(version, target);
                    }
                }
                // A failure while the server lives is a bug this test should show.
                Err(e) if !stop.load(Ordering::Relaxed) => {
                    panic!("{} on a live server: {e}", key.name)
                }
                Err(_) => return,
            }
        }
    }
}

fn generation_meta(state: State) -> Option<String> {
    match state {
        State::Body { generation, .. } => Some(generation.to_string()),
        State::Absent => None,
    }
}

async fn put(
    s3: &Client,
    key: &Key,
    generation: u64,
    len: usize,
) -> Result<Option<String>, String> {
    let out = s3
        .put_object()
        .bucket(key.bucket)
        .key(&key.name)
        .metadata("generation", generation.to_string())
        .body(ByteStream::from(body_of(generation, len)))
        .send()
        .await
        .map_err(|e| aws_sdk_s3::error::DisplayErrorContext(e).to_string())?;
    Ok(out.version_id().map(str::to_owned))
}

async fn multipart(s3: &Client, key: &Key, generation: u64) -> Result<Option<String>, String> {
    let err = |e: &dyn std::fmt::Display| e.to_string();
    let body = body_of(generation, PART + 1000);
    let upload = s3
        .create_multipart_upload()
        .bucket(key.bucket)
        .key(&key.name)
        .metadata("generation", generation.to_string())
        .send()
        .await
        .map_err(|e| err(&aws_sdk_s3::error::DisplayErrorContext(e)))?;
    let id = upload.upload_id().unwrap_or_default();
    let mut parts = Vec::new();
    for (n, piece) in [&body[..PART], &body[PART..]].into_iter().enumerate() {
        let number = n as i32 + 1;
        let out = s3
            .upload_part()
            .bucket(key.bucket)
            .key(&key.name)
            .upload_id(id)
            .part_number(number)
            .body(ByteStream::from(piece.to_vec()))
            .send()
            .await
            .map_err(|e| err(&aws_sdk_s3::error::DisplayErrorContext(e)))?;
        parts.push(
            CompletedPart::builder()
                .part_number(number)
                .e_tag(out.e_tag().unwrap_or_default())
                .build(),
        );
    }
    let out = s3
        .complete_multipart_upload()
        .bucket(key.bucket)
        .key(&key.name)
        .upload_id(id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .send()
        .await
        .map_err(|e| err(&aws_sdk_s3::error::DisplayErrorContext(e)))?;
    Ok(out.version_id().map(str::to_owned))
}

async fn copy(s3: &Client, from: &Key, to: &Key) -> Result<Option<String>, String> {
    let out = s3
        .copy_object()
        .bucket(to.bucket)
        .key(&to.name)
        .copy_source(format!("{}/{}", from.bucket, from.name))
        .send()
        .await
        .map_err(|e| aws_sdk_s3::error::DisplayErrorContext(e).to_string())?;
    Ok(out.version_id().map(str::to_owned))
}

async fn delete(s3: &Client, key: &Key) -> Result<Option<String>, String> {
    let out = s3
        .delete_object()
        .bucket(key.bucket)
        .key(&key.name)
        .send()
        .await
        .map_err(|e| aws_sdk_s3::error::DisplayErrorContext(e).to_string())?;
    // A delete marker's id is a version whose state is "absent".
    Ok(out.version_id().map(str::to_owned))
}

/// What a key (or one version of it) holds on the server now.
async fn read(s3: &Client, key: &Key, version: Option<&str>) -> State {
    let out = match s3
        .get_object()
        .bucket(key.bucket)
        .key(&key.name)
        .set_version_id(version.map(str::to_owned))
        .send()
        .await
    {
        Ok(out) => out,
        Err(e) => {
            let status = e.raw_response().map(|r| r.status().as_u16());
            // A delete marker answers 404 (current) or 405 (by id).
            assert!(
                matches!(status, Some(404 | 405)),
                "{} {version:?}: {}",
                key.name,
                aws_sdk_s3::error::DisplayErrorContext(&e)
            );
            return State::Absent;
        }
    };
    let generation: u64 = out
        .metadata()
        .and_then(|m| m.get("generation"))
        .unwrap_or_else(|| panic!("{}: no generation metadata", key.name))
        .parse()
        .expect("numeric generation");
    let bytes = out.body.collect().await.expect("read body").to_vec();
    assert!(
        bytes == body_of(generation, bytes.len()),
        "{} {version:?}: body is not generation {generation}'s bytes",
        key.name
    );
    State::Body {
        generation,
        len: bytes.len(),
    }
}

/// Writes in flight at a kill, by what the restart showed of them.
#[derive(Debug, Default)]
struct InFlight {
    applied: usize,
    not_applied: usize,
}

/// Checks every key against the model after a restart and settles what was pending.
/// Every round checks each key's current state and the versions acknowledged since the
/// last round; every [`FULL_CHECK_EVERY`] rounds and after the last one, every version
/// ever acknowledged is read back again. Re-reading all of them every round made a long
/// run quadratic (500 kills took hours).
async fn verify(
    s3: &Client,
    workers: &mut [Worker],
    round: usize,
    full: bool,
    seen: &mut InFlight,
) {
    for worker in workers {
        for key in &mut worker.keys {
            let now = read(s3, key, None).await;
            match key.pending {
                Some(p) if p != key.acked && p == now => seen.applied += 1,
                Some(p) if p != key.acked => seen.not_applied += 1,
                _ => {}
            }
            let allowed = [Some(key.acked), key.pending];
            assert!(
                allowed.contains(&Some(now)),
                "round {round}: {} holds {now:?}, acknowledged {:?}, in flight {:?}",
                key.name,
                key.acked,
                key.pending
            );
            key.acked = now;
            key.pending = None;
            let fresh = std::mem::take(&mut key.fresh);
            let to_check: Vec<(&String, &State)> = if full {
                key.versions.iter().collect()
            } else {
                fresh
                    .iter()
                    .filter_map(|v| key.versions.get_key_value(v))
                    .collect()
            };
            for (version, state) in to_check {
                let found = read(s3, key, Some(version)).await;
                assert_eq!(
                    generation_meta(found),
                    generation_meta(*state),
                    "round {round}: {} version {version}",
                    key.name
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_sigkill_at_random_moments() {
    let kills: usize = std::env::var("COFFER_CRASH_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(CI_KILLS);
    let seed: u64 = std::env::var("COFFER_CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
                | 1
        });
    println!("crash run: {kills} kills, COFFER_CRASH_SEED={seed}");
    let env = TestEnv::new();
    let mut server = env.start_durable();
    let s3 = server.client();
    create_bucket(&s3, PLAIN).await;
    create_bucket(&s3, VERSIONED).await;
    set_versioning(&s3, VERSIONED, BucketVersioningStatus::Enabled).await;

    let mut rng = Rng(seed);
    let mut in_flight = InFlight::default();
    let mut workers: Vec<Worker> = (0..WORKERS).map(|i| Worker::new(i, seed)).collect();
    for round in 0..kills {
        let stop = Arc::new(AtomicBool::new(false));
        let s3 = server.client();
        let tasks: Vec<_> = workers
            .drain(..)
            .map(|mut w| {
                let (s3, stop) = (s3.clone(), stop.clone());
                tokio::spawn(async move {
                    w.run(&s3, &stop).await;
                    w
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(100 + rng.below(900))).await;
        stop.store(true, Ordering::Relaxed);
        server.kill();
        for task in tasks {
            workers.push(task.await.expect("worker"));
        }
        server = env.start_durable_known(ROOT_ACCESS_KEY, ROOT_SECRET_KEY);
        let full = round % FULL_CHECK_EVERY == FULL_CHECK_EVERY - 1 || round + 1 == kills;
        verify(&server.client(), &mut workers, round, full, &mut in_flight).await;
        if kills > CI_KILLS && round % 10 == 9 {
            println!("crash run: {} kills survived", round + 1);
        }
    }

    let versions: usize = workers
        .iter()
        .flat_map(|w| &w.keys)
        .map(|k| k.versions.len())
        .sum();
    println!(
        "{kills} kills survived; writes in flight at a kill: {in_flight:?}; \
         {versions} acknowledged versions, all checked every {FULL_CHECK_EVERY} rounds"
    );
    server.stop();
    let (_, out) = fsck(&env, &["--json"]);
    let report: serde_json::Value = serde_json::from_str(&out).expect("fsck --json");
    for finding in report["findings"].as_array().expect("findings") {
        assert_eq!(
            finding["kind"], "orphan_chunk",
            "after {kills} kills: {out}"
        );
    }
}

/// `--durability relaxed` acknowledges before fsync, and flushes every second: what was
/// acknowledged more than a flush interval before a SIGKILL is all there after restart,
/// and the index opens consistent whatever the kill caught.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relaxed_durability_keeps_what_is_older_than_a_flush() {
    let env = TestEnv::new();
    let relaxed = [
        ("COFFER_ROOT_ACCESS_KEY", ROOT_ACCESS_KEY),
        ("COFFER_ROOT_SECRET_KEY", ROOT_SECRET_KEY),
        ("COFFER_DURABILITY", "relaxed"),
    ];
    let mut server = env.start_durable_with(&relaxed);
    let log = std::fs::read_to_string(&server.log).unwrap_or_default();
    assert!(
        log.contains("--durability relaxed"),
        "warned at start: {log}"
    );
    let s3 = server.client();
    create_bucket(&s3, PLAIN).await;
    let old: Vec<(String, Vec<u8>)> = (0..20)
        .map(|i| (format!("old-{i}"), body_of(i, 1000 + 4099 * i as usize)))
        .collect();
    for (key, body) in &old {
        crate::common::put(&s3, PLAIN, key, body).await;
    }
    // Two flush intervals: the old writes are on disk now, with nothing more said.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    for i in 0..20 {
        crate::common::put(&s3, PLAIN, &format!("young-{i}"), &body_of(100 + i, 3000)).await;
    }
    server.kill();

    let server = env.start_durable_known(ROOT_ACCESS_KEY, ROOT_SECRET_KEY);
    let s3 = server.client();
    for (key, body) in &old {
        assert!(get(&s3, PLAIN, key).await == *body, "{key} lost or changed");
    }
    // The young ones are each there whole or not at all.
    for i in 0..20 {
        let key = format!("young-{i}");
        if let Ok(out) = s3.get_object().bucket(PLAIN).key(&key).send().await {
            let got = out.body.collect().await.unwrap().into_bytes();
            assert!(got == body_of(100 + i, 3000), "{key} torn");
        }
    }
    drop(s3);
    let mut server = server;
    server.stop();
    let (code, out) = fsck(&env, &["--json"]);
    let report: serde_json::Value = serde_json::from_str(&out).expect("fsck --json");
    for finding in report["findings"].as_array().expect("findings") {
        assert_eq!(finding["kind"], "orphan_chunk", "{out}");
    }
    assert!(code <= 1);
}
