//! `<data>/admin.sock`: how `coffer backup` asks a running server for a backup, and
//! `coffer scrub` for a scrub pass.
//!
//! The index is one redb file that only one process may open, and the running server holds
//! it; a consistent copy must come from inside that process (a read transaction is a
//! consistent snapshot, and the store's writer must hold back chunk removals while the
//! copy runs: see the storage crate's `backup/mod.rs`). So an open durable server listens on
//! a Unix socket beside the unlock socket, 0600 inside the 0700 data directory: only the
//! server's own user reaches it, as only that user can read the data directory anyway. One
//! request per connection:
//!
//! ```text
//! coffer-admin 1\nbackup\n<absolute target directory>\n
//! coffer-admin 1\nscrub\n<bytes per second, 0: unpaced>\n
//! coffer-admin 1\npromote\n\n
//! ```
//!
//! and one answer line: `ok <report as JSON>` or `error: <why>`. Backups run one at a time,
//! and so do scrub passes (with the scheduled ones).
//! The target path is the operator's, never logged at info (it may name a patient's study).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use coffer_storage::Store;
use std::os::unix::fs::PermissionsExt as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{UnixListener, UnixStream};

use crate::audit_cmd::AUDIT_DIR;
use crate::scrub_task::Scrub;

/// The socket's file name in the data directory.
const SOCKET: &str = "admin.sock";
const HELLO: &str = "coffer-admin 1";
/// Largest request: a path.
const MAX_REQUEST: u64 = 8 << 10;
/// Time a client has to send its request (the backup itself may take hours).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The listening socket: removed, and its task stopped, when dropped.
pub(crate) struct AdminSocket {
    path: PathBuf,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for AdminSocket {
    fn drop(&mut self) {
        self.task.abort();
        let _ = std::fs::remove_file(&self.path);
    }
}

/// What a client asks for.
#[derive(Debug, PartialEq, Eq)]
enum Request {
    /// A backup into this absolute directory.
    Backup(PathBuf),
    /// A scrub pass now, at this many bytes per second (0: unpaced).
    Scrub { bytes_per_sec: u64 },
    /// Make this standby the writer (`coffer promote`).
    Promote,
}

/// The client side: sends `verb` and its `argument` to the server running on `data` and
/// returns its JSON report. `None`: no server answers there. No timeout: a first backup
/// or a scrub of a large store takes as long as reading it.
pub(crate) async fn ask(
    data: &Path,
    verb: &str,
    argument: &str,
) -> anyhow::Result<Option<serde_json::Value>> {
    let path = data.join(SOCKET);
    let mut stream = match UnixStream::connect(&path).await {
        Ok(stream) => stream,
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
            ) =>
        {
            return Ok(None);
        }
        Err(e) => {
            return Err(e).with_context(|| format!("could not connect to {}", path.display()));
        }
    };
    if argument.contains('\n') {
        bail!("the request's argument holds a line break");
    }
    stream
        .write_all(format!("{HELLO}\n{verb}\n{argument}\n").as_bytes())
        .await
        .context("could not send the request to the server")?;
    let mut answer = String::new();
    stream
        .take(1 << 20)
        .read_to_string(&mut answer)
        .await
        .context("could not read the server's answer")?;
    let answer = answer.trim();
    if let Some(json) = answer.strip_prefix("ok ") {
        return Ok(Some(
            serde_json::from_str(json).context("the server's report is not JSON")?,
        ));
    }
    match answer.strip_prefix("error: ") {
        Some(why) => bail!("{why}"),
        None => bail!("unexpected answer from the server: {answer:?}"),
    }
}

/// Binds `<data>/admin.sock` (0600) and answers backup and scrub requests for `store`. A
/// socket left by a crashed server is replaced.
pub(crate) async fn start(
    data: &Path,
    store: Store,
    scrub: Arc<Scrub>,
) -> anyhow::Result<AdminSocket> {
    let path = data.join(SOCKET);
    if std::fs::symlink_metadata(&path).is_ok() {
        if UnixStream::connect(&path).await.is_ok() {
            bail!("another server answers on {} already", path.display());
        }
        std::fs::remove_file(&path)
            .with_context(|| format!("could not remove the stale socket {}", path.display()))?;
    }
    let listener = UnixListener::bind(&path)
        .with_context(|| format!("could not create the admin socket {}", path.display()))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("could not chmod the admin socket {}", path.display()))?;
    let task = tokio::spawn(serve(listener, store, scrub));
    Ok(AdminSocket { path, task })
}

async fn serve(listener: UnixListener, store: Store, scrub: Arc<Scrub>) {
    // One backup at a time: two into one target would prune each other's chunks.
    let one_at_a_time = Arc::new(tokio::sync::Mutex::new(()));
    loop {
        let mut stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(error) => {
                tracing::warn!(%error, "admin socket: accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let (store, lock, scrub) = (store.clone(), one_at_a_time.clone(), scrub.clone());
        tokio::spawn(async move {
            let answer =
                match tokio::time::timeout(REQUEST_TIMEOUT, read_request(&mut stream)).await {
                    Ok(Ok(Request::Backup(target))) => {
                        let _running = lock.lock().await;
                        backup(&store, target).await
                    }
                    Ok(Ok(Request::Scrub { bytes_per_sec })) => {
                        scrub_now(&scrub, &store, bytes_per_sec).await
                    }
                    Ok(Ok(Request::Promote)) => promote(&store).await,
                    Ok(Err(why)) => format!("error: {why}"),
                    Err(_) => "error: no request within 10 seconds".to_owned(),
                };
            let _ = stream.write_all(answer.as_bytes()).await;
            let _ = stream.write_all(b"\n").await;
            let _ = stream.shutdown().await;
        });
    }
}

async fn backup(store: &Store, target: PathBuf) -> String {
    tracing::info!("backup started");
    let started = Instant::now();
    match store.backup(target, vec![AUDIT_DIR.to_owned()]).await {
        Ok(report) => {
            let seconds = started.elapsed().as_secs_f64();
            tracing::info!(
                chunks_copied = report.chunks_copied,
                bytes_copied = report.bytes_copied,
                seconds,
                "backup finished"
            );
            format!("ok {}", crate::backup_cmd::report_json(&report, seconds))
        }
        Err(error) => {
            tracing::warn!(%error, "backup failed");
            format!("error: {error}")
        }
    }
}

async fn promote(store: &Store) -> String {
    tracing::info!("promotion asked");
    let started = Instant::now();
    match store.promote().await {
        Ok(position) => {
            let seconds = started.elapsed().as_secs_f64();
            tracing::info!(
                epoch = position.epoch,
                seconds,
                "promoted: this server is the writer now"
            );
            format!(
                "ok {}",
                serde_json::json!({ "epoch": position.epoch, "seconds": seconds })
            )
        }
        Err(error) => {
            tracing::warn!(%error, "promotion failed");
            format!("error: {error}")
        }
    }
}

async fn scrub_now(scrub: &Scrub, store: &Store, bytes_per_sec: u64) -> String {
    let started = Instant::now();
    match scrub.run_now(store, bytes_per_sec).await {
        Ok(report) if report.stopped => "error: the server is stopping".to_owned(),
        Ok(report) => format!(
            "ok {}",
            crate::scrub_cmd::report_json(&report, started.elapsed().as_secs_f64())
        ),
        Err(error) => format!("error: {error}"),
    }
}

async fn read_request(stream: &mut UnixStream) -> Result<Request, &'static str> {
    let mut bytes = Vec::new();
    // Up to the end of the path's line: the client keeps the connection open for the answer.
    let mut limited = stream.take(MAX_REQUEST);
    let mut buf = [0u8; 1024];
    // Three lines: three line breaks split the request into four pieces.
    while bytes.split(|b| *b == b'\n').count() < 4 {
        let n = limited
            .read(&mut buf)
            .await
            .map_err(|_| "could not read the request")?;
        if n == 0 {
            break;
        }
        bytes.extend_from_slice(&buf[..n]);
    }
    let text = std::str::from_utf8(&bytes).map_err(|_| "the request is not UTF-8")?;
    let mut lines = text.lines();
    if lines.next() != Some(HELLO) {
        return Err("not a coffer admin request (version mismatch?)");
    }
    parse(lines.next(), lines.next().unwrap_or_default())
}

/// The request of its verb and argument lines.
fn parse(verb: Option<&str>, argument: &str) -> Result<Request, &'static str> {
    match verb {
        Some("backup") => {
            let target = PathBuf::from(argument);
            if !target.is_absolute() {
                return Err("the backup directory must be an absolute path");
            }
            Ok(Request::Backup(target))
        }
        Some("scrub") => argument
            .parse()
            .map(|bytes_per_sec| Request::Scrub { bytes_per_sec })
            .map_err(|_| "the scrub rate must be a whole number of bytes per second"),
        Some("promote") => Ok(Request::Promote),
        _ => Err("unknown request"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_parse_or_are_refused_with_a_reason() {
        assert_eq!(
            parse(Some("backup"), "/srv/backup"),
            Ok(Request::Backup(PathBuf::from("/srv/backup")))
        );
        assert!(parse(Some("backup"), "relative/dir").is_err());
        assert_eq!(
            parse(Some("scrub"), "16777216"),
            Ok(Request::Scrub {
                bytes_per_sec: 16 << 20
            })
        );
        assert!(parse(Some("scrub"), "-1").is_err());
        assert!(parse(Some("scrub"), "").is_err());
        assert_eq!(parse(Some("restore"), "/x"), Err("unknown request"));
        assert_eq!(parse(None, ""), Err("unknown request"));
    }
}
