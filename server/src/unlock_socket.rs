//! `<data>/unlock.sock`: how `coffer unlock` hands a sealed server its secret.
//!
//! A Unix socket, 0600 inside the 0700 data directory, so only the server's own user can
//! reach it. It exists only while the server is sealed. One request per connection:
//!
//! ```text
//! coffer-unlock 1\n
//! passphrase\n<passphrase>\n   |   key\n<base64>\n   |   shares\n<share>\n<share>…
//! ```
//!
//! and one answer line: `ok`, or `refused: <why>`. Attempts are taken one at a time; each
//! refusal is logged with the running count and makes the next attempt wait (1 s, 2 s,
//! 4 s … up to a minute), on top of the Argon2 cost of every passphrase tried.
// The doc comments of the clap types are the `--help` text, read as plain text.
#![allow(clippy::doc_markdown)]

use std::future::Future;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::Args;
use coffer_storage::{MasterKey, Passphrase, UnlockSecret};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{UnixListener, UnixStream};
use zeroize::Zeroizing;

use crate::unlock_input::ProofArgs;

/// The socket's file name in the data directory.
const SOCKET: &str = "unlock.sock";
const HELLO: &str = "coffer-unlock 1";
/// Largest request: a passphrase or a few dozen shares.
const MAX_REQUEST: u64 = 16 << 10;
/// Time a client has to send its request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait imposed after refusals.
const MAX_BACKOFF: Duration = Duration::from_mins(1);

/// The socket a sealed server listens on; removed when dropped.
pub(crate) struct UnlockSocket {
    path: PathBuf,
    listener: UnixListener,
}

impl Drop for UnlockSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Binds `<data>/unlock.sock` (0600). A socket left by a crashed server is replaced; one a
/// live server answers on is not.
pub(crate) async fn bind(data: &Path) -> anyhow::Result<UnlockSocket> {
    let path = data.join(SOCKET);
    if std::fs::symlink_metadata(&path).is_ok() {
        if UnixStream::connect(&path).await.is_ok() {
            bail!(
                "another sealed server is waiting on {} already",
                path.display()
            );
        }
        std::fs::remove_file(&path)
            .with_context(|| format!("could not remove the stale socket {}", path.display()))?;
    }
    let listener = UnixListener::bind(&path)
        .with_context(|| format!("could not create the unlock socket {}", path.display()))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("could not chmod the unlock socket {}", path.display()))?;
    Ok(UnlockSocket { path, listener })
}

impl UnlockSocket {
    /// The socket's path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Takes attempts one at a time until `attempt` accepts one; returns what it made. An
    /// attempt's error text is sent back to the client as the reason (fixed messages from
    /// the storage errors: never the secret).
    pub(crate) async fn serve_until<T, F, Fut>(self, mut attempt: F) -> T
    where
        F: FnMut(UnlockSecret) -> Fut,
        Fut: Future<Output = Result<T, String>>,
    {
        let mut refused: u32 = 0;
        loop {
            let mut stream = match self.listener.accept().await {
                Ok((stream, _)) => stream,
                Err(error) => {
                    tracing::warn!(%error, "unlock socket: accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let secret =
                match tokio::time::timeout(REQUEST_TIMEOUT, read_request(&mut stream)).await {
                    Ok(Ok(secret)) => secret,
                    Ok(Err(why)) => {
                        let _ = reply(&mut stream, &format!("refused: {why}")).await;
                        continue;
                    }
                    Err(_) => continue,
                };
            match attempt(secret).await {
                Ok(value) => {
                    // Gone before the client hears "ok": the socket exists only while
                    // sealed.
                    let _ = std::fs::remove_file(&self.path);
                    let _ = reply(&mut stream, "ok").await;
                    tracing::info!("unlocked through {}", self.path.display());
                    return value;
                }
                Err(why) => {
                    refused = refused.saturating_add(1);
                    tracing::warn!(refused, "unlock attempt refused: {why}");
                    let _ = reply(&mut stream, &format!("refused: {why}")).await;
                    drop(stream);
                    // Slow guessing down: 1 s, 2 s, 4 s … after each refusal.
                    let wait = Duration::from_secs(1u64 << (refused - 1).min(6)).min(MAX_BACKOFF);
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }
}

async fn reply(stream: &mut UnixStream, line: &str) -> std::io::Result<()> {
    stream.write_all(line.as_bytes()).await?;
    stream.write_all(b"\n").await?;
    stream.shutdown().await
}

async fn read_request(stream: &mut UnixStream) -> Result<UnlockSecret, &'static str> {
    let mut bytes = Zeroizing::new(Vec::new());
    stream
        .take(MAX_REQUEST)
        .read_to_end(&mut bytes)
        .await
        .map_err(|_| "could not read the request")?;
    let text = std::str::from_utf8(&bytes).map_err(|_| "the request is not UTF-8")?;
    let mut lines = text.lines();
    if lines.next() != Some(HELLO) {
        return Err("not a coffer unlock request (version mismatch?)");
    }
    let secret = match lines.next() {
        Some("passphrase") => UnlockSecret::Passphrase(Passphrase::new(Zeroizing::new(
            lines.next().unwrap_or_default().to_owned(),
        ))),
        Some("key") => UnlockSecret::Key(
            MasterKey::from_base64(lines.next().unwrap_or_default())
                .map_err(|_| "the key is not base64 of 32 bytes")?,
        ),
        Some("shares") => UnlockSecret::Shares(
            lines
                .filter(|l| !l.trim().is_empty())
                .map(|l| Zeroizing::new(l.trim().to_owned()))
                .collect(),
        ),
        _ => return Err("unknown kind of secret"),
    };
    Ok(secret)
}

/// Flags of `coffer unlock`.
#[derive(Debug, Args)]
pub(crate) struct UnlockArgs {
    /// Data directory of the sealed server.
    #[arg(long, env = "COFFER_DATA", value_name = "DIR")]
    data: PathBuf,

    /// Which secret to give.
    #[command(flatten)]
    proof: ProofArgs,
}

/// `coffer unlock`: sends a passphrase, a key or recovery shares to the sealed server on
/// `<data>/unlock.sock` and reports its answer.
pub(crate) async fn run(args: UnlockArgs) -> anyhow::Result<()> {
    let path = args.data.join(SOCKET);
    let secret = args.proof.read()?;
    let mut request = Zeroizing::new(format!("{HELLO}\n"));
    match &secret {
        UnlockSecret::Passphrase(p) => {
            request.push_str("passphrase\n");
            request.push_str(p.expose());
        }
        UnlockSecret::Key(key) => {
            request.push_str("key\n");
            request.push_str(&key.to_base64());
        }
        UnlockSecret::Shares(shares) => {
            request.push_str("shares");
            for share in shares {
                request.push('\n');
                request.push_str(share);
            }
        }
    }
    request.push('\n');
    drop(secret);
    let mut stream = UnixStream::connect(&path).await.with_context(|| {
        format!(
            "no sealed server is waiting on {} (is it running, and sealed?)",
            path.display()
        )
    })?;
    stream
        .write_all(request.as_bytes())
        .await
        .context("could not send the secret")?;
    stream
        .shutdown()
        .await
        .context("could not send the secret")?;
    let mut answer = String::new();
    tokio::time::timeout(
        Duration::from_mins(3),
        stream.take(4096).read_to_string(&mut answer),
    )
    .await
    .context("the server did not answer within 3 minutes")?
    .context("could not read the server's answer")?;
    match answer.trim() {
        "ok" => {
            eprintln!("coffer: unlocked; the server is serving");
            Ok(())
        }
        other => bail!(
            "{}",
            other.strip_prefix("refused: ").map_or_else(
                || format!("unexpected answer from the server: {other:?}"),
                |why| format!("refused: {why}")
            )
        ),
    }
}
