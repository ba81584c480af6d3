//! The master key never on the data disk (issue 17): a sealed directory opens only with an
//! unlocker; wrong secrets change nothing; unlockers come and go and the master key rotates
//! with every object still readable. Guards against a set-up that leaves a usable key in
//! the directory, and against key management that loses data.

use std::collections::BTreeMap;

use zeroize::Zeroizing;

use super::*;
use crate::keys::keyring::Keyring;

const PASSPHRASE: &str = "correct horse battery staple";

fn passphrase(text: &str) -> Passphrase {
    Passphrase::new(Zeroizing::new(text.to_owned()))
}

fn with_passphrase(text: &str) -> UnlockSecret {
    UnlockSecret::Passphrase(passphrase(text))
}

fn copy_key(key: &MasterKey) -> MasterKey {
    MasterKey::from_base64(&key.to_base64()).unwrap()
}

fn all_files(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    files_under(root)
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect()
}

/// Sets up `root` with a passphrase (minimum cost), a key file's key and 2-of-3 shares.
fn set_up(root: &Path) -> (MasterKey, Vec<Zeroizing<String>>) {
    let key = MasterKey::generate().unwrap();
    let added = init(
        root,
        vec![
            NewUnlocker::Passphrase(passphrase(PASSPHRASE), Argon2Params::MIN),
            NewUnlocker::Key(copy_key(&key)),
            NewUnlocker::Shares {
                threshold: 2,
                count: 3,
            },
        ],
    )
    .unwrap();
    let shares = added.into_iter().flat_map(|a| a.shares).collect::<Vec<_>>();
    assert_eq!(shares.len(), 3);
    (key, shares)
}

/// Opens the store with the master key `secret` unlocks, writes one object, closes it.
async fn store_one_object(root: &Path, secret: UnlockSecret) -> Vec<u8> {
    let master = unlock(root, secret).unwrap();
    let store = Store::open(config(
        root,
        &master,
        Durability::Immediate,
        IndexLocation::File,
    ))
    .await
    .unwrap();
    let bucket = store.create_bucket("clinic", "owner").await.unwrap();
    let data = body(17, 3 * CHUNK + 5);
    put(&store, &bucket, "scan.bin", &data, CHUNK).await;
    store.shutdown().await;
    data
}

/// Opens with `secret` and checks the object [`store_one_object`] wrote.
async fn assert_readable(root: &Path, secret: UnlockSecret, want: &[u8]) {
    let master = unlock(root, secret).unwrap();
    let store = Store::open(config(
        root,
        &master,
        Durability::Immediate,
        IndexLocation::File,
    ))
    .await
    .unwrap();
    let bucket = store.bucket("clinic").await.unwrap();
    let info = store.head_object(&bucket, "scan.bin").await.unwrap();
    assert!(get(&store, &info, 0..info.size).await.unwrap() == want);
    store.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sealed_directory_holds_nothing_that_opens_its_keys() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let (key, _shares) = set_up(root);
    store_one_object(root, UnlockSecret::Key(copy_key(&key))).await;

    assert!(!root.join("master.key").exists());
    // The key file gates the index (and so every bucket key): try every 32-byte string
    // found in any file outside the chunk tree as the master key. None opens it.
    let keys = std::fs::read(root.join("keys")).unwrap();
    let (check, _) = crate::keys::key_file::parse(&keys).unwrap();
    let mut tried = 0usize;
    for (path, bytes) in all_files(root) {
        if path.starts_with(root.join("chunks")) {
            continue;
        }
        for window in bytes.windows(32) {
            let mut candidate = Zeroizing::new([0u8; 32]);
            candidate.copy_from_slice(window);
            let ring = Keyring::new(&MasterKey::from_bytes(candidate));
            assert!(
                ring.verify_key_check(check).is_err(),
                "{} holds the master key",
                path.display()
            );
            tried += 1;
        }
    }
    assert!(tried > 1000, "only {tried} candidates");
    // Neither does the key-file unlocker's own key, which unlocks, but is not the master key.
    assert!(
        Keyring::new(&key).verify_key_check(check).is_err(),
        "a key file's key is the master key"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_unlocker_opens_and_wrong_secrets_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let (key, shares) = set_up(root);
    let data = store_one_object(root, with_passphrase(PASSPHRASE)).await;
    assert_readable(root, UnlockSecret::Key(copy_key(&key)), &data).await;
    assert_readable(
        root,
        UnlockSecret::Shares(vec![shares[2].clone(), shares[0].clone()]),
        &data,
    )
    .await;

    let before = all_files(root);
    let refused = |secret: UnlockSecret| unlock(root, secret).unwrap_err();
    assert!(matches!(
        refused(with_passphrase("correct horse battery stapler")),
        Error::NoMatchingUnlocker { what: "passphrase" }
    ));
    assert!(matches!(
        refused(UnlockSecret::Key(MasterKey::generate().unwrap())),
        Error::NoMatchingUnlocker { what: "key" }
    ));
    let err = refused(UnlockSecret::Shares(vec![shares[1].clone()]));
    assert!(
        matches!(err, Error::TooFewShares { have: 1, need: 2 }),
        "{err}"
    );
    assert!(err.to_string().contains("2 are needed"), "{err}");
    let mut typo = shares[1].to_string();
    typo.replace_range(3..4, if &typo[3..4] == "Q" { "R" } else { "Q" });
    let err = refused(UnlockSecret::Shares(vec![
        shares[0].clone(),
        Zeroizing::new(typo),
    ]));
    assert!(
        matches!(err, Error::BadRecoveryShare { position: 2 }),
        "{err}"
    );
    // Shares of some other directory's split.
    let other = tempfile::tempdir().unwrap();
    let (_, foreign) = set_up(other.path());
    assert!(matches!(
        refused(UnlockSecret::Shares(foreign[..2].to_vec())),
        Error::NoMatchingUnlocker {
            what: "recovery shares"
        }
    ));
    assert!(all_files(root) == before, "a refused unlock changed a file");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unlockers_come_and_go_and_rotation_keeps_every_object_readable() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let key = MasterKey::generate().unwrap();
    let first = init(root, vec![NewUnlocker::Key(copy_key(&key))]).unwrap();
    assert_eq!(first[0].id, 1);
    let data = store_one_object(root, UnlockSecret::Key(copy_key(&key))).await;
    let chunks = all_files(&root.join("chunks"));

    let by_key = || UnlockSecret::Key(copy_key(&key));
    let added = add_unlocker(
        root,
        &by_key(),
        NewUnlocker::Passphrase(passphrase(PASSPHRASE), Argon2Params::MIN),
    )
    .unwrap();
    assert_eq!(added.id, 2);
    let shares = add_unlocker(
        root,
        &with_passphrase(PASSPHRASE),
        NewUnlocker::Shares {
            threshold: 2,
            count: 3,
        },
    )
    .unwrap();
    assert_eq!(
        list_unlockers(root).unwrap(),
        [
            UnlockerInfo {
                id: 1,
                kind: UnlockerKind::Key
            },
            UnlockerInfo {
                id: 2,
                kind: UnlockerKind::Passphrase(Argon2Params::MIN)
            },
            UnlockerInfo {
                id: 3,
                kind: UnlockerKind::Shares {
                    threshold: 2,
                    count: 3
                }
            },
        ]
    );
    let by_shares = || UnlockSecret::Shares(shares.shares[1..].to_vec());

    // An unlocker cannot vouch for its own removal.
    assert!(matches!(
        remove_unlocker(root, &by_key(), 1),
        Err(Error::NoMatchingUnlocker { .. })
    ));
    remove_unlocker(root, &with_passphrase(PASSPHRASE), 1).unwrap();
    assert!(matches!(
        unlock(root, by_key()),
        Err(Error::NoMatchingUnlocker { what: "key" })
    ));
    assert!(matches!(
        remove_unlocker(root, &by_shares(), 9),
        Err(Error::NoSuchUnlocker { id: 9 })
    ));

    let master_before = unlock(root, by_shares()).unwrap();
    let done = rotate_sealed(root, &by_shares()).unwrap();
    assert_eq!(done.bucket_keys, 1);
    let master_after = unlock(root, with_passphrase(PASSPHRASE)).unwrap();
    assert_ne!(master_before.expose(), master_after.expose());
    assert!(
        all_files(&root.join("chunks")) == chunks,
        "rotation rewrote a chunk"
    );
    assert_readable(root, with_passphrase(PASSPHRASE), &data).await;
    assert_readable(root, by_shares(), &data).await;

    remove_unlocker(root, &by_shares(), 2).unwrap();
    assert!(matches!(
        remove_unlocker(root, &by_shares(), 3),
        Err(Error::LastUnlocker)
    ));
    assert_readable(root, by_shares(), &data).await;
}

#[test]
fn weak_argon2_parameters_and_short_passphrases_are_refused_at_set_up() {
    let dir = tempfile::tempdir().unwrap();
    let weak = Argon2Params {
        memory_kib: 32 << 10,
        ..Argon2Params::MIN
    };
    let err = init(
        dir.path(),
        vec![NewUnlocker::Passphrase(passphrase(PASSPHRASE), weak)],
    )
    .unwrap_err();
    assert!(matches!(err, Error::WeakArgon2), "{err}");
    assert!(err.to_string().contains("64 MiB"), "{err}");
    assert!(matches!(
        init(
            dir.path(),
            vec![NewUnlocker::Passphrase(
                passphrase("short"),
                Argon2Params::MIN
            )]
        ),
        Err(Error::WeakPassphrase)
    ));
    assert_eq!(dir_state(dir.path()).unwrap(), DirState::Fresh);
    assert!(matches!(
        unlock(dir.path(), with_passphrase(PASSPHRASE)),
        Err(Error::NotInitialized)
    ));
}

#[test]
fn a_file_edited_to_cheap_argon2_parameters_is_refused_before_any_guess() {
    use crate::keys::unlocker_file::{StoredKind, load, store};
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    init(
        root,
        vec![NewUnlocker::Passphrase(
            passphrase(PASSPHRASE),
            Argon2Params::MIN,
        )],
    )
    .unwrap();
    let mut file = load(root).unwrap();
    for entry in &mut file.unlockers {
        if let StoredKind::Passphrase { params, .. } = &mut entry.kind {
            params.memory_kib = 8 << 10;
        }
    }
    store(root, &file).unwrap();
    assert!(matches!(
        unlock(root, with_passphrase(PASSPHRASE)),
        Err(Error::WeakArgon2)
    ));
    assert!(matches!(list_unlockers(root), Err(Error::WeakArgon2)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_rotation_is_refused_at_open_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let (key, _shares) = set_up(root);
    let data = store_one_object(root, UnlockSecret::Key(copy_key(&key))).await;
    // Refused while the store is open, leaving nothing to finish.
    let master = unlock(root, UnlockSecret::Key(copy_key(&key))).unwrap();
    let store = Store::open(config(
        root,
        &master,
        Durability::Immediate,
        IndexLocation::File,
    ))
    .await
    .unwrap();
    let before = all_files(root);
    let err = rotate_sealed(root, &UnlockSecret::Key(copy_key(&key))).unwrap_err();
    let after = all_files(root);
    let changed: Vec<_> = after
        .iter()
        .filter(|(p, b)| before.get(*p) != Some(*b))
        .map(|(p, _)| p.clone())
        .collect();
    assert!(
        changed.is_empty(),
        "{err}: a refused rotation changed {changed:?}"
    );
    store.shutdown().await;
    unlock(root, UnlockSecret::Key(copy_key(&key))).unwrap();

    crate::rotation::interrupt_rotation(root, &UnlockSecret::Key(copy_key(&key))).unwrap();
    assert!(matches!(
        unlock(root, UnlockSecret::Key(copy_key(&key))),
        Err(Error::RotationIncomplete)
    ));
    let done = rotate_sealed(root, &with_passphrase(PASSPHRASE)).unwrap();
    assert_eq!(done.bucket_keys, 1);
    assert_readable(root, UnlockSecret::Key(copy_key(&key)), &data).await;
    // Running it again is a fresh, complete rotation.
    rotate_sealed(root, &UnlockSecret::Key(copy_key(&key))).unwrap();
    assert_readable(root, with_passphrase(PASSPHRASE), &data).await;
}
