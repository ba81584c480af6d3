//! A full data disk (issue 13): on a small tmpfs, writes that do not fit are refused with
//! 503 (SDKs retry it) and leave nothing behind, reads go on, the server takes writes again
//! by itself once space is freed, and a restart finds every acknowledged object intact.
//! Needs the right to mount a tmpfs (root here); skipped, saying so, where it is missing.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;

use crate::common::{
    Expect, ROOT_ACCESS_KEY, ROOT_SECRET_KEY, TestEnv, code_of, create_bucket, get, put,
    random_bytes, status_of,
};

const MIB: usize = 1024 * 1024;

/// A mounted tmpfs, unmounted when dropped (also when the test fails).
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(at).ok()?;
        let mounted = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(at)
            .output()
            .ok()?;
        mounted.status.success().then(|| Tmpfs(at.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_refuses_writes_with_503_and_recovers_by_itself() {
    let env = TestEnv::new();
    let Some(disk) = Tmpfs::mount(&env.scratch().join("small-disk"), "24m") else {
        eprintln!("SKIPPED: cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN)");
        return;
    };
    let data = disk.0.join("data");
    let data_arg = data.to_str().unwrap().to_owned();
    let args = ["serve", "--data", &data_arg, "--listen", "127.0.0.1:0"];
    let root = [
        ("COFFER_ROOT_ACCESS_KEY", ROOT_ACCESS_KEY),
        ("COFFER_ROOT_SECRET_KEY", ROOT_SECRET_KEY),
    ];
    let known = Expect::Known {
        access_key: ROOT_ACCESS_KEY.to_owned(),
        secret_key: ROOT_SECRET_KEY.to_owned(),
    };
    let mut server = env.start(&args, &root, &known);
    let s3 = server.client();
    create_bucket(&s3, "scans").await;
    let kept = random_bytes(MIB);
    put(&s3, "scans", "kept", &kept).await;

    // Fill the disk with distinct bodies until a write is refused.
    let mut stored = Vec::new();
    let refusal = loop {
        assert!(stored.len() < 20, "24 MiB never filled up");
        let body = random_bytes(2 * MIB);
        let key = format!("fill-{}", stored.len());
        match s3
            .put_object()
            .bucket("scans")
            .key(&key)
            .body(ByteStream::from(body.clone()))
            .send()
            .await
        {
            Ok(_) => stored.push((key, body)),
            Err(e) => break e,
        }
    };
    assert_eq!(status_of(&refusal), 503, "{refusal:?}");
    let code = code_of(&refusal).unwrap_or_default();
    assert!(
        code == "SlowDown" || code == "ServiceUnavailable",
        "a full disk answered {code}"
    );

    // Reads go on while the disk is full.
    assert_eq!(get(&s3, "scans", "kept").await, kept);
    assert_eq!(get(&s3, "scans", &stored[0].0).await, stored[0].1);

    // Space comes back: the same kind of write is taken again, without a restart.
    for (key, _) in stored.drain(..3) {
        s3.delete_object()
            .bucket("scans")
            .key(&key)
            .send()
            .await
            .unwrap();
    }
    let again = random_bytes(2 * MIB);
    let mut accepted = false;
    for _ in 0..40 {
        if s3
            .put_object()
            .bucket("scans")
            .key("after")
            .body(ByteStream::from(again.clone()))
            .send()
            .await
            .is_ok()
        {
            accepted = true;
            break;
        }
        // Chunk files of deleted objects go in the background.
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(accepted, "writes were still refused after space was freed");
    stored.push(("after".to_owned(), again));
    server.stop();

    // A restart finds every acknowledged object, byte for byte.
    let server = env.start(&args, &root, &known);
    let s3 = server.client();
    assert_eq!(get(&s3, "scans", "kept").await, kept);
    for (key, body) in &stored {
        assert_eq!(&get(&s3, "scans", key).await, body, "{key}");
    }
}
