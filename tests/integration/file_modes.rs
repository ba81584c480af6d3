//! P6 on disk: every file Coffer writes is 0600 and every directory 0700, even when the
//! operator's umask would allow everyone to read and write (umask 000).

use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use crate::common::{Expect, ROOT_ACCESS_KEY, ROOT_SECRET_KEY, TestEnv, create_bucket, put};

/// Every file and directory under `dir` (directories included, `dir` itself too).
fn entries(dir: &Path) -> Vec<(PathBuf, bool)> {
    let mut out = vec![(dir.to_path_buf(), true)];
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let ft = entry.file_type().unwrap();
            if ft.is_dir() {
                stack.push(entry.path());
            }
            out.push((entry.path(), ft.is_dir()));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p6_data_files_are_0600_and_dirs_0700_under_umask_000() {
    let env = TestEnv::new();
    let wrapper = env.scratch().join("coffer-umask-000.sh");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\numask 000\nexec '{}' \"$@\"\n",
            env!("CARGO_BIN_EXE_coffer")
        ),
    )
    .unwrap();
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o700)).unwrap();

    // An empty data directory (the operator's own, 0700); everything inside is Coffer's.
    let data = env.root().join("fresh-data");
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700)).unwrap();
    let data_str = data.to_str().unwrap();
    let mut server = env.start_program(
        &wrapper,
        &["serve", "--data", data_str, "--listen", "127.0.0.1:0"],
        &[
            ("COFFER_ROOT_ACCESS_KEY", ROOT_ACCESS_KEY),
            ("COFFER_ROOT_SECRET_KEY", ROOT_SECRET_KEY),
        ],
        &Expect::Known {
            access_key: ROOT_ACCESS_KEY.to_owned(),
            secret_key: ROOT_SECRET_KEY.to_owned(),
        },
    );
    let s3 = server.client();
    create_bucket(&s3, "clinic").await;
    put(&s3, "clinic", "small.txt", b"small").await;
    put(&s3, "clinic", "large.bin", &vec![7u8; 3 << 20]).await;
    server.stop();

    let found = entries(&data);
    assert!(
        found.iter().filter(|(_, dir)| !dir).count() >= 2,
        "expected files under {}",
        data.display()
    );
    let mut wrong = Vec::new();
    for (path, is_dir) in &found {
        let meta = std::fs::symlink_metadata(path).unwrap();
        let mode = meta.mode() & 0o777;
        let want = if *is_dir { 0o700 } else { 0o600 };
        if mode != want {
            wrong.push(format!("{:o} {}", mode, path.display()));
        }
    }
    assert!(wrong.is_empty(), "wrong modes:\n{}", wrong.join("\n"));
}
