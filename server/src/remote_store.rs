//! Which chunk store a data directory uses: its own `chunks/` tree, or a remote S3 bucket
//! (`--chunk-store`), chosen at the directory's first start and remembered beside the index
//! in `DATA/chunk-store.toml`.
//!
//! A directory that already holds chunk files keeps them where they are: moving a store's
//! chunks is not something a flag may do by surprise. Once chosen, the remote is used at
//! every start, with or without the flag; a different `--chunk-store` is refused. The
//! credentials are never written down: they come from `COFFER_CHUNK_STORE_ACCESS_KEY` and
//! `COFFER_CHUNK_STORE_SECRET_KEY` at every start.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use coffer_remote::{Location, S3Chunks, Settings};
use std::time::Duration;

use coffer_storage::{IndexLocation, Placement, RemoteChunkStore, RemoteChunks, Role, Shipping};
use serde::Deserialize;
use zeroize::Zeroizing;

/// The file in the data directory that remembers the remote.
pub(crate) const RECORD_FILE: &str = "chunk-store.toml";
/// The environment variables holding the remote's credentials.
pub(crate) const ACCESS_KEY_VAR: &str = "COFFER_CHUNK_STORE_ACCESS_KEY";
pub(crate) const SECRET_KEY_VAR: &str = "COFFER_CHUNK_STORE_SECRET_KEY";

/// What the command line asks for (`--chunk-store` or `--standby-of`,
/// `--chunk-store-endpoint`, `--chunk-store-region`, `--cache-size`, `--ship-interval`,
/// `--ship-each-commit`, `--lease-duration`, `--deployment`).
#[derive(Debug, Clone)]
pub(crate) struct Wanted {
    pub(crate) location: Option<String>,
    pub(crate) endpoint: Option<String>,
    pub(crate) region: String,
    pub(crate) cache_bytes: u64,
    pub(crate) ship_interval: Duration,
    pub(crate) ship_each_commit: bool,
    pub(crate) lease: Duration,
    /// Follow the deployment at `location` (`--standby-of`) instead of writing it.
    pub(crate) standby: bool,
    /// Which deployment to follow or restore, if several ship under `location`.
    pub(crate) deployment: Option<String>,
}

impl Default for Wanted {
    /// What offline commands use: the directory's record decides, with the defaults.
    fn default() -> Wanted {
        Wanted {
            location: None,
            endpoint: None,
            region: "us-east-1".to_owned(),
            cache_bytes: 0,
            ship_interval: Duration::from_secs(crate::limits::DEFAULT_SHIP_INTERVAL_SECS),
            ship_each_commit: false,
            lease: Duration::from_secs(crate::limits::DEFAULT_LEASE_SECS),
            standby: false,
            deployment: None,
        }
    }
}

/// What `chunk-store.toml` holds.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
struct Record {
    /// `s3://BUCKET[/PREFIX]`.
    location: String,
    /// The endpoint last used.
    endpoint: String,
    /// The region signed for.
    region: String,
    /// The random id every remote name goes under.
    deployment: String,
    /// This data directory's own id, the lease holder's name (added at the first start
    /// that ships the index).
    #[serde(default)]
    node: Option<String>,
}

impl Record {
    fn text(&self) -> String {
        // Every value is checked to hold no quote or backslash before it is written.
        format!(
            "# Where this data directory's sealed chunks are kept: written at its first start.\n\
             # The location and deployment must not change; the endpoint and region may.\n\
             location = \"{}\"\nendpoint = \"{}\"\nregion = \"{}\"\ndeployment = \"{}\"\nnode = \"{}\"\n",
            self.location,
            self.endpoint,
            self.region,
            self.deployment,
            self.node.as_deref().unwrap_or_default()
        )
    }
}

fn plain(value: &str) -> bool {
    !value.contains(['"', '\\', '\n', '\r'])
}

fn read_record(root: &Path) -> anyhow::Result<Option<Record>> {
    let path = root.join(RECORD_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("could not read {}", path.display())),
    };
    let record: Record =
        toml::from_str(&text).with_context(|| format!("{} does not parse", path.display()))?;
    Ok(Some(record))
}

fn write_record(root: &Path, record: &Record) -> anyhow::Result<()> {
    let path = root.join(RECORD_FILE);
    coffer_storage::write_private_file(&path, record.text().as_bytes())
        .with_context(|| format!("could not write {}", path.display()))
}

/// Whether `root/chunks` holds anything: chunks kept locally so far.
fn has_local_chunks(root: &Path) -> bool {
    std::fs::read_dir(root.join("chunks")).is_ok_and(|mut entries| entries.next().is_some())
}

/// The placement of the store in `root` (index where `index` says): chunks in `root`, or
/// in the remote chosen at its first start.
///
/// # Errors
/// A refused change of chunk store, a missing endpoint or credentials, or a record that
/// cannot be read or written.
pub(crate) fn placement(
    wanted: &Wanted,
    root: &Path,
    index: IndexLocation,
) -> anyhow::Result<Placement> {
    let local = Placement::Directory {
        root: root.to_path_buf(),
        index,
    };
    let record = read_record(root)?;
    let wanted_location = wanted
        .location
        .as_deref()
        .map(Location::parse)
        .transpose()
        .context("--chunk-store")?;
    let record = match (record, wanted_location) {
        (None, None) => return Ok(local),
        (Some(mut record), wanted_location) => {
            if let Some(location) = wanted_location
                && location.to_string() != record.location
            {
                bail!(
                    "this data directory keeps its chunks at {}, not {location}: a data directory's chunk store is chosen at its first start",
                    record.location
                );
            }
            let mut changed = false;
            if let Some(endpoint) = &wanted.endpoint
                && *endpoint != record.endpoint
            {
                record.endpoint.clone_from(endpoint);
                changed = true;
            }
            if wanted.location.is_some() && wanted.region != record.region {
                record.region.clone_from(&wanted.region);
                changed = true;
            }
            if changed {
                check_plain(&record)?;
                write_record(root, &record)?;
            }
            record
        }
        (None, Some(location)) => {
            if has_local_chunks(root) {
                bail!(
                    "{} already keeps chunks in {}: a data directory's chunk store is chosen at its first start",
                    root.display(),
                    root.join("chunks").display()
                );
            }
            let Some(endpoint) = wanted.endpoint.clone() else {
                bail!("--chunk-store needs --chunk-store-endpoint (the remote's http(s):// URL)");
            };
            let record = Record {
                location: location.to_string(),
                endpoint,
                region: wanted.region.clone(),
                deployment: random_id()?,
                node: Some(random_id()?),
            };
            check_plain(&record)?;
            write_record(root, &record)?;
            tracing::info!("chunks go to the remote chunk store from now on");
            record
        }
    };
    let record = with_node(root, record)?;
    let remote = connect(&record)?;
    let ship = Shipping {
        interval: wanted.ship_interval,
        each_commit: wanted.ship_each_commit,
        role: if wanted.standby {
            Role::Standby
        } else {
            Role::Primary
        },
        node: record.node.clone().unwrap_or_default(),
        lease: wanted.lease,
    };
    Ok(Placement::Remote {
        root: root.to_path_buf(),
        index,
        chunks: RemoteChunkStore {
            remote,
            cache_bytes: wanted.cache_bytes,
            // An index in memory (--ephemeral) is gone at exit: nothing to ship.
            ship: (index == IndexLocation::File).then_some(ship),
        },
    })
}

fn random_id() -> anyhow::Result<String> {
    let mut id = [0u8; 16];
    getrandom::fill(&mut id).map_err(|e| anyhow::anyhow!("no randomness for an id: {e}"))?;
    Ok(hex::encode(id))
}

/// `record` with a node id, written down if it had none (a record from before shipping).
fn with_node(root: &Path, mut record: Record) -> anyhow::Result<Record> {
    if record.node.as_deref().is_none_or(str::is_empty) {
        record.node = Some(random_id()?);
        write_record(root, &record)?;
    }
    Ok(record)
}

/// Makes `root` a copy of a deployment shipped at `wanted.location`: writes its record
/// (the same location and deployment, a node id of its own) and fetches the key files, so
/// it can be unlocked and its index restored (`coffer restore --from s3://…`, or a first
/// `serve --standby-of`). A directory that has a record already must name the same
/// location; it is left as it is. Returns whether the index still needs restoring.
///
/// # Errors
/// A non-empty directory without a record, no endpoint or credentials, no (or more than
/// one) shipped deployment, or the remote failing.
pub(crate) fn prepare_copy(wanted: &Wanted, root: &Path) -> anyhow::Result<bool> {
    let Some(location) = wanted.location.as_deref() else {
        bail!("no location to copy from");
    };
    let location = Location::parse(location).context("the location to follow or restore")?;
    if let Some(record) = read_record(root)? {
        if record.location != location.to_string() {
            bail!(
                "{} keeps its chunks at {}, not {location}",
                root.display(),
                record.location
            );
        }
        return Ok(!root.join("index.redb").exists());
    }
    let empty = match std::fs::read_dir(root) {
        Ok(mut entries) => entries.next().is_none(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => true,
        Err(e) => return Err(e).with_context(|| format!("could not read {}", root.display())),
    };
    if !empty {
        bail!(
            "{} is not empty: a copy of a shipped deployment goes into a new directory (nothing was changed)",
            root.display()
        );
    }
    let Some(endpoint) = wanted.endpoint.clone() else {
        bail!("--chunk-store-endpoint is needed to reach {location}");
    };
    let (access_key, secret_key) = credentials()?;
    let mut settings = Settings {
        location: location.clone(),
        endpoint: endpoint.clone(),
        region: wanted.region.clone(),
        access_key,
        secret_key,
        deployment: String::new(),
    };
    let deployment = if let Some(id) = &wanted.deployment {
        id.clone()
    } else {
        let found = coffer_remote::shipped_deployments(&settings)
            .with_context(|| format!("could not list what ships at {location}"))?;
        match found.as_slice() {
            [one] => one.clone(),
            [] => bail!("no server ships its index at {location}"),
            many => bail!(
                "several servers ship at {location}: choose one with --deployment ({})",
                many.join(", ")
            ),
        }
    };
    settings.deployment.clone_from(&deployment);
    let record = Record {
        location: location.to_string(),
        endpoint,
        region: wanted.region.clone(),
        deployment,
        node: Some(random_id()?),
    };
    check_plain(&record)?;
    let remote = S3Chunks::connect(&settings).context("could not set up the remote chunk store")?;
    std::fs::create_dir_all(root)
        .with_context(|| format!("could not create {}", root.display()))?;
    std::fs::set_permissions(root, std::os::unix::fs::PermissionsExt::from_mode(0o700))
        .with_context(|| format!("could not chmod {}", root.display()))?;
    let files = coffer_storage::fetch_shipped_files(&remote, root)
        .context("could not fetch the shipped key files")?;
    if files == 0 {
        bail!("nothing was shipped at {location} for that deployment");
    }
    write_record(root, &record)?;
    Ok(true)
}

/// Rebuilds `root`'s index from what is shipped (after [`prepare_copy`] and an unlock).
///
/// # Errors
/// What [`coffer_storage::restore_index`] reports, or a record that cannot be read.
pub(crate) fn restore_index(
    root: &Path,
    master_key: &coffer_storage::MasterKey,
) -> anyhow::Result<coffer_storage::RestoreReport> {
    let record = read_record(root)?.context("no chunk-store.toml: nothing to restore from")?;
    let remote = connect(&record)?;
    coffer_storage::restore_index(remote.as_ref(), root, master_key)
        .context("could not restore the shipped index")
}

fn check_plain(record: &Record) -> anyhow::Result<()> {
    if [&record.endpoint, &record.region].iter().all(|v| plain(v)) {
        Ok(())
    } else {
        bail!(
            "the chunk store's endpoint and region cannot hold quotes, backslashes or line breaks"
        )
    }
}

/// A client of the remote in `record`, with the credentials from the environment; says so
/// (and goes on) if the remote does not answer now.
fn credentials() -> anyhow::Result<(String, Zeroizing<String>)> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    match (var(ACCESS_KEY_VAR), var(SECRET_KEY_VAR)) {
        (Some(access), Some(secret)) => Ok((access, Zeroizing::new(secret))),
        _ => bail!(
            "the remote chunk store needs {ACCESS_KEY_VAR} and {SECRET_KEY_VAR} in the environment"
        ),
    }
}

fn connect(record: &Record) -> anyhow::Result<Arc<dyn RemoteChunks>> {
    let (access_key, secret_key) = credentials()?;
    let settings = Settings {
        location: Location::parse(&record.location).context("chunk-store.toml: location")?,
        endpoint: record.endpoint.clone(),
        region: record.region.clone(),
        access_key,
        secret_key,
        deployment: record.deployment.clone(),
    };
    let client =
        Arc::new(S3Chunks::connect(&settings).context("could not set up the remote chunk store")?);
    // Probed in the background: a remote that is briefly down must not hold the start
    // (what needs it fails with 503 until it answers).
    let probing = Arc::clone(&client);
    std::thread::spawn(move || match probing.probe() {
        Ok(()) => tracing::info!("the remote chunk store answers"),
        Err(error) => tracing::warn!(
            %error,
            "the remote chunk store does not answer: requests that need it fail with 503 until it does"
        ),
    });
    Ok(client)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wanted(location: Option<&str>, endpoint: Option<&str>) -> Wanted {
        Wanted {
            location: location.map(str::to_owned),
            endpoint: endpoint.map(str::to_owned),
            ..Wanted::default()
        }
    }

    #[test]
    fn without_the_flag_or_a_record_chunks_stay_local() {
        let dir = tempfile::tempdir().unwrap();
        let placement = placement(&wanted(None, None), dir.path(), IndexLocation::File).unwrap();
        assert!(matches!(placement, Placement::Directory { .. }));
    }

    #[test]
    fn a_directory_with_local_chunks_is_not_moved() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("chunks/00")).unwrap();
        let err = placement(
            &wanted(Some("s3://chunks"), Some("http://127.0.0.1:1")),
            dir.path(),
            IndexLocation::File,
        )
        .unwrap_err();
        assert!(err.to_string().contains("first start"), "{err}");
        assert!(!dir.path().join(RECORD_FILE).exists());
    }

    #[test]
    fn the_first_choice_is_remembered_and_another_refused() {
        let dir = tempfile::tempdir().unwrap();
        let record = Record {
            location: "s3://chunks/coffer".to_owned(),
            endpoint: "http://127.0.0.1:1".to_owned(),
            region: "us-east-1".to_owned(),
            deployment: "00ff".to_owned(),
            node: Some("0a".to_owned()),
        };
        write_record(dir.path(), &record).unwrap();
        assert_eq!(read_record(dir.path()).unwrap(), Some(record));
        let err = placement(
            &wanted(Some("s3://other"), None),
            dir.path(),
            IndexLocation::File,
        )
        .unwrap_err();
        assert!(err.to_string().contains("s3://chunks/coffer"), "{err}");
    }

    #[test]
    fn a_first_start_needs_an_endpoint() {
        let dir = tempfile::tempdir().unwrap();
        let err = placement(
            &wanted(Some("s3://chunks"), None),
            dir.path(),
            IndexLocation::File,
        )
        .unwrap_err();
        assert!(err.to_string().contains("--chunk-store-endpoint"), "{err}");
    }
}
