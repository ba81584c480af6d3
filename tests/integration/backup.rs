//! `coffer backup` and `coffer restore` (issue 13): a backup taken from a running server under
//! write load, restored into a new directory and served, holds every object acknowledged
//! before the backup began, byte for byte, and any object written during it whole or not
//! at all; a second run copies only new chunks and removes what is no longer referenced;
//! the backup holds no plaintext that went in through the API (P3); a backup cut short by a
//! SIGKILL leaves the previous one whole, and the next run completes it.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::common::markers::{marker, needles};
use crate::common::{
    Expect, ROOT_ACCESS_KEY, ROOT_SECRET_KEY, TestEnv, create_bucket, files_under, get,
    list_all_keys, put, random_bytes,
};

fn root_creds() -> [(&'static str, &'static str); 2] {
    [
        ("COFFER_ROOT_ACCESS_KEY", ROOT_ACCESS_KEY),
        ("COFFER_ROOT_SECRET_KEY", ROOT_SECRET_KEY),
    ]
}

/// `coffer serve` on `dir` (a backup or a restored directory) with the root credential.
fn serve_dir(env: &TestEnv, dir: &Path) -> crate::common::Server {
    env.start(
        &[
            "serve",
            "--data",
            dir.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ],
        &root_creds(),
        &Expect::Known {
            access_key: ROOT_ACCESS_KEY.into(),
            secret_key: ROOT_SECRET_KEY.into(),
        },
    )
}

/// Runs `coffer <args…> --json` to completion; its report.
fn run_json(env: &TestEnv, args: &[&str]) -> serde_json::Value {
    let mut args = args.to_vec();
    args.push("--json");
    let (ok, stdout, log) = env.run(&args, &[], b"");
    assert!(ok, "coffer {args:?} failed: {log}");
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

fn backup(env: &TestEnv, to: &Path) -> serde_json::Value {
    let data = env.data();
    run_json(
        env,
        &[
            "backup",
            "--data",
            data.to_str().unwrap(),
            "--to",
            to.to_str().unwrap(),
        ],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_under_load_restores_every_acknowledged_object() {
    let env = TestEnv::new();
    let server = env.start_durable();
    let s3 = server.client();
    let bucket = marker("clinic");
    let secret = marker("patient");
    create_bucket(&s3, &bucket).await;

    // Acknowledged before the backup: small, inline-sized, multi-chunk (4 MiB chunks).
    let mut before: Vec<(String, Vec<u8>)> = Vec::new();
    for i in 0..30 {
        let mut body = random_bytes(1000 + i * 7919);
        body.extend_from_slice(secret.as_bytes());
        before.push((format!("{secret}/scan-{i}"), body));
    }
    before.push(("big".to_owned(), random_bytes(9 << 20)));
    before.push(("tiny".to_owned(), secret.as_bytes().to_vec()));
    for (key, body) in &before {
        put(&s3, &bucket, key, body).await;
    }

    // Write load: new objects, and deletes of some of the load's own earlier ones.
    let stop = Arc::new(AtomicBool::new(false));
    let written: Arc<Mutex<HashMap<String, Vec<u8>>>> = Arc::default();
    let mut load = Vec::new();
    for worker in 0..2 {
        let (s3, bucket, stop, written) =
            (s3.clone(), bucket.clone(), stop.clone(), written.clone());
        load.push(tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let key = format!("load-{worker}-{i}");
                let body = random_bytes(20_000 + (i % 7) * 40_000);
                // Recorded first: if the object is in the backup, this is its body.
                written.lock().unwrap().insert(key.clone(), body.clone());
                put(&s3, &bucket, &key, &body).await;
                if i % 4 == 3 {
                    let old = format!("load-{worker}-{}", i - 2);
                    s3.delete_object()
                        .bucket(&bucket)
                        .key(&old)
                        .send()
                        .await
                        .unwrap();
                }
                i += 1;
            }
            i
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;

    let out = env.scratch().join("backup");
    let report = {
        let (env_ref, out) = (&env, out.clone());
        tokio::task::block_in_place(|| backup(env_ref, &out))
    };
    assert_eq!(report["mode"], "online", "{report}");
    assert_eq!(report["complete"], true, "{report}");
    assert!(report["chunks_copied"].as_u64().unwrap() > 0, "{report}");

    stop.store(true, Ordering::Relaxed);
    let mut load_puts = 0;
    for task in load {
        load_puts += task.await.unwrap();
    }
    assert!(
        load_puts > 10,
        "the load ran during the backup: {load_puts} puts"
    );

    // P3: neither the bucket name, nor a key, nor a body is readable in the backup.
    let files = files_under(&out);
    assert!(files.iter().any(|f| f.ends_with("index.redb")), "no index");
    assert!(!files.iter().any(|f| f.ends_with("master.key")));
    for file in &files {
        let bytes = std::fs::read(file).unwrap();
        for (field, m) in [("bucket", &bucket), ("key and body", &secret)] {
            for (form, needle) in needles(m.as_bytes()) {
                assert!(
                    !bytes.windows(needle.len()).any(|w| w == needle.as_slice()),
                    "P3: the {form} form of the {field} marker is in {}",
                    file.display()
                );
            }
        }
    }

    // Restore into a new directory (verified by fsck) and serve it with the same key.
    let restored = env.scratch().join("restored");
    let report = run_json(
        &env,
        &[
            "restore",
            "--from",
            out.to_str().unwrap(),
            "--data",
            restored.to_str().unwrap(),
        ],
    );
    assert_eq!(report["fsck_problems"], 0, "{report}");
    let second = serve_dir(&env, &restored);
    let copy = second.client();
    for (key, body) in &before {
        assert!(get(&copy, &bucket, key).await == *body, "{key} differs");
    }
    let written = written.lock().unwrap().clone();
    let mut during = 0;
    for key in list_all_keys(&copy, &bucket).await {
        if let Some(body) = written.get(&key) {
            during += 1;
            assert!(get(&copy, &bucket, &key).await == *body, "{key} differs");
        } else {
            assert!(before.iter().any(|(k, _)| *k == key), "unknown key {key}");
        }
    }
    eprintln!("{during} objects written during the backup are in it");
    drop(second);

    // Incremental: after catching up, three new one-chunk objects and one deleted one-chunk
    // object make the next run copy exactly three chunks and remove one (bodies above
    // 16 KiB: smaller ones live in the index, not in chunk files).
    backup(&env, &out);
    for i in 0..3 {
        put(&s3, &bucket, &format!("new-{i}"), &random_bytes(20_000)).await;
    }
    s3.delete_object()
        .bucket(&bucket)
        .key(format!("{secret}/scan-29"))
        .send()
        .await
        .unwrap();
    let report = backup(&env, &out);
    assert_eq!(report["chunks_copied"], 3, "{report}");
    assert_eq!(report["chunks_removed"], 1, "{report}");
    assert_eq!(
        report["chunks_present"].as_u64().unwrap() + 3,
        report["chunks_referenced"].as_u64().unwrap(),
        "{report}"
    );
}

#[tokio::test]
async fn backup_of_a_stopped_directory_and_refusals() {
    let env = TestEnv::new();
    let mut server = env.start_durable();
    let s3 = server.client();
    create_bucket(&s3, "clinic").await;
    let body = random_bytes(70_000);
    put(&s3, "clinic", "a", &body).await;
    server.stop();

    // No server: the command opens the directory itself (COFFER_MASTER_KEY).
    let out = env.scratch().join("offline");
    let report = backup(&env, &out);
    assert_eq!(report["mode"], "offline", "{report}");
    assert_eq!(report["chunks_copied"], 1, "{report}");

    // Served in place, the backup is a data directory.
    let copy = serve_dir(&env, &out);
    assert!(get(&copy.client(), "clinic", "a").await == body);
    drop(copy);

    // Restore refuses a directory that is not empty; backup one inside the data directory.
    let data = env.data();
    let (ok, _, log) = env.run(
        &[
            "restore",
            "--from",
            out.to_str().unwrap(),
            "--data",
            data.to_str().unwrap(),
        ],
        &[],
        b"",
    );
    assert!(!ok && log.contains("not empty"), "{log}");
    let inside = data.join("b");
    let (ok, _, log) = env.run(
        &[
            "backup",
            "--data",
            data.to_str().unwrap(),
            "--to",
            inside.to_str().unwrap(),
        ],
        &[],
        b"",
    );
    assert!(!ok && log.contains("outside the data directory"), "{log}");
}

/// `coffer fsck --json` of the directory `dir`: its exit code and report.
fn fsck_of(env: &TestEnv, dir: &Path) -> (i32, serde_json::Value) {
    let (code, out, log) = env.run_for_code(
        &["fsck", "--data", dir.to_str().unwrap(), "--json"],
        &[],
        b"",
    );
    assert!(code != 2, "fsck could not run on {}: {log}", dir.display());
    (
        code,
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}")),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_killed_midway_leaves_the_last_one_whole() {
    let env = TestEnv::new();
    let mut server = env.start_durable();
    let mut s3 = server.client();
    create_bucket(&s3, "clinic").await;
    let mut stored: Vec<(String, Vec<u8>)> = Vec::new();
    for i in 0..5 {
        let (key, body) = (format!("first-{i}"), random_bytes(20_000 + i));
        put(&s3, "clinic", &key, &body).await;
        stored.push((key, body));
    }
    let out = env.scratch().join("backup");
    backup(&env, &out);

    // Each round: more data, then the server SIGKILLed while it copies it into the target.
    // Whenever the kill lands, the target must still be the last complete backup (fsck
    // finds nothing but files of the interrupted copy), and the data directory unharmed.
    let data = env.data();
    let mut interrupted = 0;
    for (round, delay_ms) in [5u64, 40, 120].into_iter().enumerate() {
        for i in 0..4 {
            let (key, body) = (format!("round-{round}-{i}"), random_bytes((3 << 20) + i));
            put(&s3, "clinic", &key, &body).await;
            stored.push((key, body));
        }
        let (mut copying, _) = env.command(
            &[
                "backup",
                "--data",
                data.to_str().unwrap(),
                "--to",
                out.to_str().unwrap(),
            ],
            &[],
        );
        let mut copying = copying.spawn().unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(delay_ms)).await;
        server.kill();
        if !copying.wait().unwrap().success() {
            interrupted += 1;
        }
        let (_, report) = fsck_of(&env, &out);
        for finding in report["findings"].as_array().unwrap() {
            assert_eq!(finding["kind"], "orphan_chunk", "round {round}: {report}");
        }
        server = env.start_durable_known(ROOT_ACCESS_KEY, ROOT_SECRET_KEY);
        s3 = server.client();
    }
    eprintln!("{interrupted} of 3 backups were cut short by the kill");

    // The next backup completes, and the target then holds every object, clean.
    let report = backup(&env, &out);
    assert_eq!(report["complete"], true, "{report}");
    server.stop();
    assert_eq!(fsck_of(&env, &out).0, 0);
    assert_eq!(fsck_of(&env, &data).0, 0, "the data directory is unharmed");
    drop(s3);
    let copy = serve_dir(&env, &out);
    let copy_s3 = copy.client();
    for (key, body) in &stored {
        assert!(get(&copy_s3, "clinic", key).await == *body, "{key} differs");
    }
}
