//! Crash safety of the sealed index, proven the way redb proves its own.
//!
//! A fault-injecting disk sits *under* the sealing backend, so faults hit ciphertext, as
//! they would on a real disk. It keeps the `durable` image (what a completed sync made
//! safe) and the writes since the last sync. At a chosen operation (write, `set_len` or
//! sync) the process "dies": that operation and every later one fail. The image a crash
//! leaves is the durable image plus a random choice of the pending operations, each
//! dropped, applied whole, or torn (a random subset of its 16-byte units — the sealing
//! cipher's unit; real disks tear at sector granularity, a multiple of it); each crash
//! point also gets the image where every pending write landed whole. The image is
//! then reopened through the sealing backend and must hold exactly the last acknowledged
//! commit or the one in flight — never anything else — and pass redb's integrity check.
//!
//! Guards against: a sealing backend that breaks redb's recovery (growth not reading
//! back as zeros, a read-modify-write spilling over a neighbour unit, the god byte's unit
//! torn into noise), and a commit that is visible half-done.
//!
//! The `versions` module at the end runs the same crashes under version creation and
//! deletion (the index's own version operations) and checks the recovered versions,
//! refcounts and sequence are whole and consistent.
//!
//! `crash_tests_quick` checks 5 000 crash images in CI (about 10 s in a debug build). Set
//! `COFFER_CRASH_ITERATIONS=<n>` for a longer run, or run the ignored
//! `crash_tests_long` (`cargo nextest run -p coffer-storage --run-ignored all crash`).

use std::collections::BTreeMap;
use std::io;
use std::sync::{Arc, Mutex, PoisonError};

use redb::{ReadableDatabase as _, ReadableTable as _, StorageBackend, TableDefinition};

use super::sealed_backend::{IndexCipher, SealedBackend};

const TABLE: TableDefinition<u64, &[u8]> = TableDefinition::new("t");
const UNIT: usize = 16;
/// Commits per workload.
const TXNS: u64 = 6;

/// Small deterministic PRNG (xorshift64*).
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

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

enum Pending {
    Write { offset: usize, data: Vec<u8> },
    SetLen(usize),
}

#[derive(Default)]
struct Disk {
    live: Vec<u8>,
    durable: Vec<u8>,
    pending: Vec<Pending>,
    ops: u64,
    crash_at: Option<u64>,
    crashed: bool,
}

impl Disk {
    /// Counts an operation; fails it and everything after once the crash point is reached.
    fn step(&mut self) -> io::Result<()> {
        if self.crashed {
            return Err(io::Error::other("simulated crash"));
        }
        self.ops += 1;
        if self.crash_at == Some(self.ops) {
            self.crashed = true;
        }
        Ok(())
    }
}

fn apply(image: &mut Vec<u8>, op: &Pending, keep_unit: &mut dyn FnMut() -> bool) {
    match op {
        Pending::SetLen(len) => image.resize(*len, 0),
        Pending::Write { offset, data } => {
            if image.len() < offset + data.len() {
                image.resize(offset + data.len(), 0);
            }
            for (i, unit) in data.chunks(UNIT).enumerate() {
                if keep_unit() {
                    let at = offset + i * UNIT;
                    image[at..at + unit.len()].copy_from_slice(unit);
                }
            }
        }
    }
}

/// The fault-injecting disk.
#[derive(Clone, Default)]
struct FaultDisk(Arc<Mutex<Disk>>);

impl std::fmt::Debug for FaultDisk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FaultDisk")
    }
}

impl FaultDisk {
    fn with_image(image: Vec<u8>) -> FaultDisk {
        FaultDisk(Arc::new(Mutex::new(Disk {
            live: image.clone(),
            durable: image,
            ..Disk::default()
        })))
    }

    fn disk(&self) -> std::sync::MutexGuard<'_, Disk> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The bytes a crash now would leave: with `all`, every pending write reached the
    /// disk whole (the sync was cut short after the device took them); else a random mix.
    fn crash_image(&self, rng: &mut Rng, all: bool) -> Vec<u8> {
        let disk = self.disk();
        let mut image = disk.durable.clone();
        for op in &disk.pending {
            match if all { 3 } else { rng.below(4) } {
                0 => {}
                1 => {
                    let seed = rng.next();
                    let mut torn = Rng::new(seed);
                    apply(&mut image, op, &mut || torn.below(2) == 0);
                }
                _ => apply(&mut image, op, &mut || true),
            }
        }
        image
    }
}

impl StorageBackend for FaultDisk {
    fn len(&self) -> io::Result<u64> {
        let disk = self.disk();
        if disk.crashed {
            return Err(io::Error::other("simulated crash"));
        }
        Ok(disk.live.len() as u64)
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> io::Result<()> {
        let disk = self.disk();
        if disk.crashed {
            return Err(io::Error::other("simulated crash"));
        }
        let offset = usize::try_from(offset).map_err(io::Error::other)?;
        let src = disk
            .live
            .get(offset..offset + out.len())
            .ok_or_else(|| io::Error::from(io::ErrorKind::UnexpectedEof))?;
        out.copy_from_slice(src);
        Ok(())
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        let mut disk = self.disk();
        let len = usize::try_from(len).map_err(io::Error::other)?;
        disk.step()?;
        disk.pending.push(Pending::SetLen(len));
        if disk.crashed {
            return Err(io::Error::other("simulated crash"));
        }
        disk.live.resize(len, 0);
        Ok(())
    }

    fn sync_data(&self) -> io::Result<()> {
        let mut disk = self.disk();
        disk.step()?;
        if disk.crashed {
            return Err(io::Error::other("simulated crash"));
        }
        let pending = std::mem::take(&mut disk.pending);
        for op in &pending {
            apply(&mut disk.durable, op, &mut || true);
        }
        Ok(())
    }

    fn write(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        let mut disk = self.disk();
        let offset = usize::try_from(offset).map_err(io::Error::other)?;
        disk.step()?;
        // The failing write may still reach the disk, whole or torn.
        disk.pending.push(Pending::Write {
            offset,
            data: data.to_vec(),
        });
        if disk.crashed {
            return Err(io::Error::other("simulated crash"));
        }
        if disk.live.len() < offset + data.len() {
            disk.live.resize(offset + data.len(), 0);
        }
        disk.live[offset..offset + data.len()].copy_from_slice(data);
        Ok(())
    }
}

type State = BTreeMap<u64, Vec<u8>>;

fn value(txn: u64, key: u64, len: usize) -> Vec<u8> {
    let mut v = format!("t{txn}k{key};").into_bytes();
    v.resize(len.max(v.len()), u8::try_from(txn % 251).unwrap_or(0));
    v
}

fn cipher() -> IndexCipher {
    IndexCipher::new(&[0x5a; 32])
}

fn open(disk: &FaultDisk) -> Result<redb::Database, redb::DatabaseError> {
    redb::Database::builder()
        .set_cache_size(1 << 20)
        .create_with_backend(SealedBackend::new(disk.clone(), cipher()))
}

/// Runs the workload of `seed`. `states[i]` is the table after commit `i` (`states[0]`
/// empty); returns how many commits were acknowledged.
fn workload(disk: &FaultDisk, seed: u64, states: &mut Vec<State>) -> usize {
    let mut rng = Rng::new(seed);
    states.clear();
    states.push(State::new());
    let Ok(db) = open(disk) else { return 0 };
    let mut acked = 0;
    for t in 1..=TXNS {
        let mut next = states[acked].clone();
        let Ok(mut txn) = db.begin_write() else {
            break;
        };
        if txn.set_durability(redb::Durability::Immediate).is_err() {
            break;
        }
        let ok = (|| -> Result<(), redb::Error> {
            let mut table = txn.open_table(TABLE)?;
            for _ in 0..=rng.below(12) {
                let key = rng.below(48);
                if rng.below(4) == 0 {
                    table.remove(key)?;
                    next.remove(&key);
                } else {
                    // Mostly small values; now and then a large one, to grow the file.
                    let len = if rng.below(8) == 0 {
                        4_000 + usize::try_from(rng.below(30_000)).unwrap_or(0)
                    } else {
                        1 + usize::try_from(rng.below(600)).unwrap_or(0)
                    };
                    let v = value(t, key, len);
                    table.insert(key, v.as_slice())?;
                    next.insert(key, v);
                }
            }
            Ok(())
        })();
        states.truncate(acked + 1);
        states.push(next);
        if ok.is_err() || txn.commit().is_err() {
            break;
        }
        acked += 1;
    }
    acked
}

fn read_state(db: &redb::Database) -> State {
    let txn = db.begin_read().unwrap();
    let table = match txn.open_table(TABLE) {
        Ok(table) => table,
        Err(redb::TableError::TableDoesNotExist(_)) => return State::new(),
        Err(e) => panic!("open table after recovery: {e}"),
    };
    table
        .iter()
        .unwrap()
        .map(|entry| {
            let (k, v) = entry.unwrap();
            (k.value(), v.value().to_vec())
        })
        .collect()
}

/// Recoveries that found the commit in flight (its writes all reached the disk).
static IN_FLIGHT_SEEN: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// One crash at operation `crash_at` of workload `seed`; panics if recovery is wrong.
fn crash_once(seed: u64, crash_at: u64, images: u64) {
    let disk = FaultDisk::default();
    disk.disk().crash_at = Some(crash_at);
    let mut states = Vec::new();
    let acked = workload(&disk, seed, &mut states);
    let mut rng = Rng::new(seed ^ crash_at.rotate_left(32));
    for i in 0..images {
        let image = disk.crash_image(&mut rng, i == 0);
        let recovered = FaultDisk::with_image(image);
        let mut db = open(&recovered)
            .unwrap_or_else(|e| panic!("seed {seed} crash at op {crash_at}: reopen failed: {e}"));
        let state = read_state(&db);
        let in_flight = states.get(acked + 1);
        if state != states[acked] {
            IN_FLIGHT_SEEN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        assert!(
            state == states[acked] || Some(&state) == in_flight,
            "seed {seed} crash at op {crash_at}: recovered a state that was never committed \
             (acked {acked}, {} keys recovered, {} acked keys)",
            state.len(),
            states[acked].len()
        );
        assert!(
            db.check_integrity().unwrap(),
            "seed {seed} crash at op {crash_at}: integrity"
        );
        // Still writable after recovery.
        let txn = db.begin_write().unwrap();
        txn.open_table(TABLE)
            .unwrap()
            .insert(999, b"after".as_slice())
            .unwrap();
        txn.commit().unwrap();
    }
}

/// Operations the workload of `seed` performs without a crash, and how many of them
/// creating the database takes.
fn probe(seed: u64) -> (u64, u64) {
    let disk = FaultDisk::default();
    let db = open(&disk).unwrap();
    let create = disk.disk().ops;
    drop(db);
    let disk = FaultDisk::default();
    let mut states = Vec::new();
    assert_eq!(
        workload(&disk, seed, &mut states),
        usize::try_from(TXNS).unwrap()
    );
    let total = disk.disk().ops;
    (create, total)
}

/// Runs crash points over successive seeds until `iterations` crash images were checked;
/// returns the count.
fn run(iterations: u64) -> u64 {
    let mut done = 0;
    let mut seed = 0;
    while done < iterations {
        seed += 1;
        let (create, total) = probe(seed);
        // Every operation after the database exists is a crash point; each leaves two
        // different images.
        for crash_at in create + 1..=total {
            crash_once(seed, crash_at, 2);
            done += 2;
            if done >= iterations {
                break;
            }
        }
    }
    done
}

#[test]
fn crash_tests_quick() {
    let iterations = std::env::var("COFFER_CRASH_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5_000);
    let started = std::time::Instant::now();
    let done = run(iterations);
    let in_flight = IN_FLIGHT_SEEN.load(std::sync::atomic::Ordering::Relaxed);
    eprintln!(
        "sealed index crash test: {done} crash images in {:.1?}, {in_flight} recovered the commit in flight",
        started.elapsed()
    );
    // Not vacuous: some crashes land after a commit's writes all reached the disk.
    assert!(in_flight > 0);
}

#[test]
#[ignore = "long run (about 50 000 crash images); run explicitly"]
fn crash_tests_long() {
    let started = std::time::Instant::now();
    let done = run(50_000);
    eprintln!(
        "sealed index crash test: {done} crash images in {:.1?}",
        started.elapsed()
    );
}

#[test]
fn a_crash_that_tears_every_pending_write_still_recovers() {
    // The harshest image: nothing since the last sync survives whole.
    let (create, total) = probe(7);
    for crash_at in (create + 1..=total).step_by(3) {
        let disk = FaultDisk::default();
        disk.disk().crash_at = Some(crash_at);
        let mut states = Vec::new();
        let acked = workload(&disk, 7, &mut states);
        let image = {
            let d = disk.disk();
            let mut image = d.durable.clone();
            let mut rng = Rng::new(crash_at);
            for op in &d.pending {
                apply(&mut image, op, &mut || rng.below(2) == 0);
            }
            image
        };
        let db = open(&FaultDisk::with_image(image)).unwrap();
        let state = read_state(&db);
        assert!(state == states[acked] || Some(&state) == states.get(acked + 1));
    }
}

// ---- Versions: the same crashes under version creation and deletion ----
//
// The workload runs the index's own version operations (`put_version`, `delete_current`,
// `delete_version`, versioning changes) in each transaction. After a crash the versions,
// current objects, chunk refcounts and the version sequence must be exactly the last
// acknowledged commit or the one in flight, and consistent: every chunk counted once per
// object version that uses it, and no key without a current object whose newest version
// is an object.

mod versions {
    use std::collections::BTreeMap;

    use redb::ReadableDatabase as _;

    use super::super::batch::Batch;
    use super::super::versions::VERSIONS;
    use super::super::{BUCKET_KEYS, BUCKETS, CHUNK_REFS, META, OBJECTS, SEALED};
    use super::{FaultDisk, Rng, open};
    use crate::chunks::chunk_id::ChunkId;
    use crate::object::ObjectMeta;
    use crate::records::{self, BucketRecord, ChunkRef, ObjectRecord, VersionRecord, VersionStamp};
    use crate::version::{VersionRef, Versioning};

    const BUCKET: [u8; 16] = [7; 16];
    const KEYS: [&str; 4] = ["a", "a/b", "b\u{0}", "c"];
    const TXNS: u64 = 5;

    /// Every row of the tables versions touch, by table.
    type State = BTreeMap<(u8, Vec<u8>), Vec<u8>>;

    fn rows<T>(table: &T, tag: u8, state: &mut State)
    where
        T: redb::ReadableTable<&'static [u8], &'static [u8]>,
    {
        for entry in table.iter().unwrap() {
            let (k, v) = entry.unwrap();
            state.insert((tag, k.value().to_vec()), v.value().to_vec());
        }
    }

    fn refs<T: redb::ReadableTable<&'static [u8], u64>>(table: &T, state: &mut State) {
        for entry in table.iter().unwrap() {
            let (k, v) = entry.unwrap();
            state.insert((2, k.value().to_vec()), v.value().to_le_bytes().to_vec());
        }
    }

    fn seq<T: redb::ReadableTable<&'static str, &'static [u8]>>(table: &T, state: &mut State) {
        if let Some(seq) = table.get("version_seq").unwrap() {
            state.insert((3, Vec::new()), seq.value().to_vec());
        }
    }

    /// What a recovered database holds.
    fn read_state(db: &redb::Database) -> State {
        let txn = db.begin_read().unwrap();
        let mut state = State::new();
        rows(&txn.open_table(OBJECTS).unwrap(), 0, &mut state);
        rows(&txn.open_table(VERSIONS).unwrap(), 1, &mut state);
        refs(&txn.open_table(CHUNK_REFS).unwrap(), &mut state);
        seq(&txn.open_table(META).unwrap(), &mut state);
        state
    }

    /// What a transaction is about to commit.
    fn pending_state(txn: &redb::WriteTransaction) -> State {
        let mut state = State::new();
        rows(&txn.open_table(OBJECTS).unwrap(), 0, &mut state);
        rows(&txn.open_table(VERSIONS).unwrap(), 1, &mut state);
        refs(&txn.open_table(CHUNK_REFS).unwrap(), &mut state);
        seq(&txn.open_table(META).unwrap(), &mut state);
        state
    }

    /// Refcounts equal the chunk uses of all object versions; a key without a current
    /// object has no object as its newest older version.
    fn check_consistent(state: &State) {
        let mut uses: BTreeMap<Vec<u8>, u64> = BTreeMap::new();
        let mut count = |chunks: &[ChunkRef]| {
            for c in chunks {
                let mut key = BUCKET.to_vec();
                key.extend_from_slice(c.id.as_bytes());
                *uses.entry(key).or_default() += 1;
            }
        };
        let mut newest_older: BTreeMap<Vec<u8>, bool> = BTreeMap::new();
        for ((tag, key), value) in state {
            match tag {
                0 => count(
                    &records::decode::<ObjectRecord>(value, "object")
                        .unwrap()
                        .chunks,
                ),
                1 => {
                    let v: VersionRecord = records::decode(value, "version").unwrap();
                    if let VersionRecord::Object(o) = &v {
                        count(&o.chunks);
                    }
                    // Versions sort newest first within a key: the first seen is the newest.
                    let prefix = key[..key.len() - 8].to_vec();
                    newest_older
                        .entry(prefix)
                        .or_insert(matches!(v, VersionRecord::Object(_)));
                }
                _ => {}
            }
        }
        let refs: BTreeMap<Vec<u8>, u64> = state
            .iter()
            .filter(|((tag, _), _)| *tag == 2)
            .map(|((_, k), v)| {
                (
                    k.clone(),
                    u64::from_le_bytes(v.as_slice().try_into().unwrap()),
                )
            })
            .collect();
        assert_eq!(refs, uses, "chunk refcounts disagree with the versions");
        for (prefix, newest_is_object) in newest_older {
            let key = &prefix[BUCKET.len()..prefix.len() - 2];
            let raw: Vec<u8> = {
                // Unescape `00 FF` → `00`.
                let mut out = Vec::new();
                let mut it = key.iter();
                while let Some(&b) = it.next() {
                    out.push(b);
                    if b == 0 {
                        it.next();
                    }
                }
                out
            };
            let mut current = BUCKET.to_vec();
            current.extend_from_slice(&raw);
            if !state.contains_key(&(0, current)) {
                assert!(
                    !newest_is_object,
                    "a key lost its current object to an older version"
                );
            }
        }
    }

    fn record(rng: &mut Rng) -> ObjectRecord {
        let chunks = (0..=rng.below(3))
            .map(|_| ChunkRef {
                id: ChunkId([u8::try_from(rng.below(6)).unwrap(); 32]),
                len: 10,
            })
            .collect();
        ObjectRecord {
            size: 10,
            etag: format!("{:032x}", rng.next()),
            modified_ms: 1,
            version: VersionStamp { seq: 0, null: true },
            meta: ObjectMeta::default(),
            chunks,
            lock: crate::version::ObjectLock::default(),
            encryption: crate::keys::encryption::Encryption::Coffer,
            inline: None,
        }
    }

    /// Creates the tables and one versioned bucket; then runs the workload. Returns the
    /// commits acknowledged after setup (states[0] is the state after setup).
    fn workload(disk: &FaultDisk, seed: u64, states: &mut Vec<State>) -> Option<usize> {
        let mut rng = Rng::new(seed);
        states.clear();
        let db = open(disk).ok()?;
        let setup = (|| -> crate::error::Result<()> {
            let mut txn = db
                .begin_write()
                .map_err(crate::error::Error::index("begin"))?;
            txn.set_durability(redb::Durability::Immediate)
                .map_err(crate::error::Error::index("durability"))?;
            for def in [BUCKET_KEYS, OBJECTS, VERSIONS] {
                txn.open_table(def)
                    .map_err(crate::error::Error::index("table"))?;
            }
            for def in [BUCKETS, META, SEALED] {
                let _: redb::Table<&str, &[u8]> = txn
                    .open_table(def)
                    .map_err(crate::error::Error::index("table"))?;
            }
            txn.open_table(CHUNK_REFS)
                .map_err(crate::error::Error::index("table"))?;
            super::super::uploads::create_tables(&txn)?;
            super::super::settings::create_table(&txn)?;
            let mut batch = Batch::new(txn, false);
            let bucket = BucketRecord {
                id: BUCKET,
                owner: "o".into(),
                created_ms: 1,
            };
            batch.create_bucket("b", &bucket, &[0; 8], false)?;
            batch.set_versioning("b", Versioning::Enabled)?;
            batch.commit().map(|_| ())
        })();
        setup.ok()?;
        states.push(read_state(&db));
        let mut acked = 0;
        for _ in 0..TXNS {
            let Ok(mut txn) = db.begin_write() else { break };
            if txn.set_durability(redb::Durability::Immediate).is_err() {
                break;
            }
            let mut batch = Batch::new(txn, false);
            let ok = (|| -> crate::error::Result<()> {
                for _ in 0..=rng.below(6) {
                    let key = KEYS[usize::try_from(rng.below(4)).unwrap()];
                    let outcome = match rng.below(10) {
                        0..=4 => batch
                            .put_version(&BUCKET, key, record(&mut rng), None)
                            .map(|_| ()),
                        5..=6 => batch.delete_current(&BUCKET, key, None).map(|_| ()),
                        7..=8 => {
                            let seq = 1 + rng.below(20);
                            batch
                                .delete_version(&BUCKET, key, VersionRef::Id(seq), false)
                                .map(|_| ())
                        }
                        _ => {
                            let state = if rng.below(2) == 0 {
                                Versioning::Suspended
                            } else {
                                Versioning::Enabled
                            };
                            batch.set_versioning("b", state)
                        }
                    };
                    match outcome {
                        Err(e)
                            if matches!(
                                e,
                                crate::error::Error::Index { .. }
                                    | crate::error::Error::Corrupt { .. }
                            ) =>
                        {
                            return Err(e);
                        }
                        _ => {}
                    }
                }
                Ok(())
            })();
            if ok.is_err() {
                break;
            }
            // What this commit leaves if it lands.
            states.truncate(acked + 1);
            states.push(pending_state(batch.txn()));
            if batch.commit().is_err() {
                break;
            }
            acked += 1;
        }
        Some(acked)
    }

    /// Operations until setup is durable, and in the whole workload.
    fn probe(seed: u64) -> (u64, u64) {
        let disk = FaultDisk::default();
        let mut states = Vec::new();
        let acked = workload(&disk, seed, &mut states).unwrap();
        assert_eq!(acked, usize::try_from(TXNS).unwrap());
        let total = disk.disk().ops;
        (setup_ops(seed), total)
    }

    /// Operations until the setup commit is durable.
    fn setup_ops(seed: u64) -> u64 {
        // Crash at increasing points until setup survives.
        for at in 1.. {
            let disk = FaultDisk::default();
            disk.disk().crash_at = Some(at);
            let mut states = Vec::new();
            if workload(&disk, seed, &mut states).is_some() {
                return at;
            }
        }
        unreachable!()
    }

    fn crash_once(seed: u64, crash_at: u64, images: u64) -> bool {
        let disk = FaultDisk::default();
        disk.disk().crash_at = Some(crash_at);
        let mut states = Vec::new();
        let Some(acked) = workload(&disk, seed, &mut states) else {
            return false;
        };
        let mut rng = Rng::new(seed ^ crash_at.rotate_left(17));
        let mut in_flight_seen = false;
        for i in 0..images {
            let image = disk.crash_image(&mut rng, i == 0);
            let db = open(&FaultDisk::with_image(image))
                .unwrap_or_else(|e| panic!("seed {seed} crash at {crash_at}: reopen: {e}"));
            let state = read_state(&db);
            let in_flight = states.get(acked + 1);
            in_flight_seen |= Some(&state) == in_flight && state != states[acked];
            assert!(
                state == states[acked] || Some(&state) == in_flight,
                "seed {seed} crash at {crash_at}: versions recovered in a state never committed (acked {acked})"
            );
            check_consistent(&state);
        }
        in_flight_seen
    }

    #[test]
    fn version_changes_survive_crashes_whole_or_not_at_all() {
        let mut images = 0u64;
        let mut in_flight = 0u64;
        for seed in 1..=10 {
            let (setup, total) = probe(seed);
            for crash_at in setup + 1..=total {
                if crash_once(seed, crash_at, 2) {
                    in_flight += 1;
                }
                images += 2;
            }
        }
        eprintln!(
            "version crash test: {images} crash images, {in_flight} recovered the commit in flight"
        );
        assert!(images > 100);
        assert!(
            in_flight > 0,
            "no crash landed after a commit's writes: the test is vacuous"
        );
    }
}
