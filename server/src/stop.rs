//! When `coffer serve` stops: on SIGTERM or ctrl-c, and, for a server tied to what
//! started it (`--exit-with-parent`), when that goes away.
//!
//! A throwaway server must not outlive its test run. Killing a wrapper (a shell's coproc,
//! `cargo run`, a test runner's subprocess helper) does not reach the server behind it, so
//! the server watches for the two things every such parent leaves behind when it dies: its
//! stdin pipe reaching end of file (the write end closes with the last process holding
//! it), and its parent process changing (it was reparented to init or a subreaper).

use std::io::Read as _;
use std::sync::OnceLock;
use std::time::Duration;

/// How often the parent process is looked at.
const PARENT_POLL: Duration = Duration::from_millis(200);

/// The parent process at start, before it has had time to exit.
static PARENT: OnceLock<u32> = OnceLock::new();

/// Notes the parent process; call first thing in `main`. Read any later, a parent that
/// started the server and exited at once would already be init, and never seen to go.
pub(crate) fn note_parent() {
    PARENT.get_or_init(std::os::unix::process::parent_id);
}

/// Whether stdin is a pipe or a socket (what test harnesses hand a child), not a terminal
/// or `/dev/null`: only then does its end of file mean the parent let go.
pub(crate) fn stdin_is_pipe() -> bool {
    use std::os::fd::AsFd as _;
    use std::os::unix::fs::FileTypeExt as _;
    let Ok(fd) = std::io::stdin().as_fd().try_clone_to_owned() else {
        return false;
    };
    std::fs::File::from(fd)
        .metadata()
        .is_ok_and(|m| m.file_type().is_fifo() || m.file_type().is_socket())
}

/// What ends serving: [`on_signal`] for the binary, a harness's own future in process.
pub(crate) type Stop = std::pin::Pin<Box<dyn Future<Output = ()> + Send>>;

/// Stops on a signal, or (with `tied`) when whatever started the server goes away.
pub(crate) fn on_signal(tied: bool) -> Stop {
    Box::pin(requested(tied))
}

/// Completes when the server should stop: a signal, or (with `tied`) its parent's end.
async fn requested(tied: bool) {
    if tied {
        tokio::select! {
            () = signal() => {}
            why = parent_gone() => tracing::info!(why, "the process that started this server is gone; shutting down"),
        }
    } else {
        signal().await;
    }
}

/// Completes when stdin reaches end of file or the parent process changes.
async fn parent_gone() -> &'static str {
    let parent = *PARENT.get_or_init(std::os::unix::process::parent_id);
    let (tx, mut stdin_closed) = tokio::sync::oneshot::channel::<()>();
    // A plain thread: a blocking read cannot be cancelled, and tokio would wait for it at
    // shutdown; the process exit ends it.
    let watcher = std::thread::Builder::new()
        .name("coffer-stdin".into())
        .spawn(move || {
            let mut stdin = std::io::stdin().lock();
            let mut sink = [0u8; 1024];
            loop {
                match stdin.read(&mut sink) {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
            let _ = tx.send(());
        });
    if let Err(error) = watcher {
        tracing::warn!(%error, "cannot watch stdin; only the parent process is watched");
    }
    let mut poll = tokio::time::interval(PARENT_POLL);
    // Cleared if the watcher could not run (its sender dropped unsent).
    let mut watching = true;
    loop {
        tokio::select! {
            closed = &mut stdin_closed, if watching => {
                if closed.is_ok() {
                    return "stdin reached end of file";
                }
                watching = false;
            }
            _ = poll.tick() => {
                if std::os::unix::process::parent_id() != parent {
                    return "the parent process exited";
                }
            }
        }
    }
}

/// Completes on SIGTERM or ctrl-c (SIGINT).
async fn signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::warn!(%error, "cannot listen for ctrl-c");
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sig) => {
                sig.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    tracing::info!("shutting down");
}
