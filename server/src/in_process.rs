//! A throwaway Coffer run inside another program's tokio runtime: what the
//! `coffer-testing` crate's `TestServer` stands on, so a Rust test suite needs no binary to
//! build or find.
//!
//! It is `coffer serve` itself: the flags are parsed by the binary's own parser (defaults
//! and checks in one place), and the same serve path runs. What differs is only what a
//! process would otherwise own: no environment is read (not `COFFER_*`, not the root
//! credential), no signal handler is installed, stdin and the parent process are not
//! watched, and the announcements (endpoint, region, credentials) come back as values, not
//! stdout lines. Only `--in-memory` and `--ephemeral` run in process: a durable server
//! belongs in its own process, under its own supervisor.

use std::collections::BTreeMap;

use clap::{CommandFactory as _, FromArgMatches as _};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::announce::Announcer;
use crate::config::{Cli, Command, Config};

/// Why a server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The flags do not parse, or describe a server that cannot run (the message says why,
    /// as `coffer serve` would).
    #[error("{0}")]
    Flags(String),
    /// Neither `--in-memory` nor `--ephemeral` was given.
    #[error("only --in-memory or --ephemeral servers run in process")]
    NotThrowaway,
    /// The server failed before it was ready.
    #[error("the server stopped before it was ready: {0}")]
    Failed(String),
}

/// A server running in this process's runtime. Dropping it asks the server to stop (it
/// finishes open requests in the background); [`Running::stop`] waits until it has.
#[derive(Debug)]
pub struct Running {
    vars: BTreeMap<String, String>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
}

impl Running {
    /// What `coffer serve` would print on stdout: `AWS_ENDPOINT_URL`, `AWS_REGION`,
    /// `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` (when generated), and the
    /// `COFFER_USER_*` of `--users`.
    #[must_use]
    pub fn vars(&self) -> &BTreeMap<String, String> {
        &self.vars
    }

    /// Stops the server and waits until it has: requests finished, store closed, any
    /// temporary directory removed.
    ///
    /// # Errors
    /// What the server reported as it stopped.
    pub async fn stop(mut self) -> Result<(), String> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.task.take() {
            Some(task) => match task.await {
                Ok(result) => result.map_err(|e| format!("{e:#}")),
                Err(e) => Err(e.to_string()),
            },
            None => Ok(()),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Starts `coffer serve` with `flags` (as after `coffer serve` on a command line) in the
/// current tokio runtime, and returns once it serves. `root` fixes the root credential
/// (checked as `COFFER_ROOT_*` would be); without it one is generated and announced.
///
/// # Errors
/// [`StartError`].
pub async fn start(
    flags: &[String],
    root: Option<(String, String)>,
) -> Result<Running, StartError> {
    let mut cfg = parse(flags)?;
    if !cfg.mode.is_throwaway() {
        return Err(StartError::NotThrowaway);
    }
    cfg.harness.exit_with_parent = false;
    cfg.harness.root_credential =
        root.map(|(access_key, secret)| (access_key, coffer_auth::Secret::new(secret)));
    let (vars_tx, mut vars_rx) = mpsc::unbounded_channel();
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let stop = Box::pin(async move {
        // A dropped sender (the `Running` is gone) stops the server too.
        let _ = stop_rx.await;
    });
    let task = tokio::spawn(crate::serve::serve(
        cfg,
        stop,
        Announcer::to_channel(vars_tx),
    ));
    // The first batch comes when the server is ready; the channel closes unannounced when
    // it stops first (its announcer goes with it), and the task then says why.
    if let Some(announced) = vars_rx.recv().await {
        let vars = announced
            .into_iter()
            .map(|(name, value)| (name, value.to_string()))
            .collect();
        return Ok(Running {
            vars,
            stop: Some(stop_tx),
            task: Some(task),
        });
    }
    Err(StartError::Failed(match task.await {
        Ok(Ok(())) => "it stopped without an error".to_owned(),
        Ok(Err(e)) => format!("{e:#}"),
        Err(e) => e.to_string(),
    }))
}

/// The serve flags as the binary parses them, with no environment variable read.
fn parse(flags: &[String]) -> Result<Config, StartError> {
    let command = Cli::command().mut_subcommand("serve", |serve| {
        let ids: Vec<clap::Id> = serve.get_arguments().map(|a| a.get_id().clone()).collect();
        ids.into_iter()
            .fold(serve, |serve, id| serve.mut_arg(id, |arg| arg.env(None)))
    });
    let command_line = ["coffer", "serve"]
        .into_iter()
        .map(str::to_owned)
        .chain(flags.iter().cloned());
    let matches = command
        .try_get_matches_from(command_line)
        .map_err(|e| StartError::Flags(e.to_string()))?;
    let cli = Cli::from_arg_matches(&matches).map_err(|e| StartError::Flags(e.to_string()))?;
    let Command::Serve(args) = cli.command else {
        return Err(StartError::Flags("not a serve command line".to_owned()));
    };
    Config::from_args(args, false).map_err(|e| StartError::Flags(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_parse_as_the_binary_parses_them_and_read_no_environment() {
        let flags = |f: &[&str]| f.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let cfg = parse(&flags(&["--in-memory", "--bucket", "fixtures"])).unwrap();
        assert!(cfg.mode.is_throwaway());
        assert_eq!(cfg.harness.buckets, ["fixtures"]);
        assert!(matches!(
            parse(&flags(&["--in-memory", "--max-memory", "1"])),
            Err(StartError::Flags(m)) if m.contains("--max-memory")
        ));
        assert!(matches!(
            parse(&flags(&["--no-such-flag"])),
            Err(StartError::Flags(_))
        ));
    }

    #[tokio::test]
    async fn a_durable_server_does_not_run_in_process() {
        let flags = vec!["--data".to_owned(), "/nonexistent".to_owned()];
        assert!(matches!(
            start(&flags, None).await,
            Err(StartError::NotThrowaway)
        ));
    }
}
