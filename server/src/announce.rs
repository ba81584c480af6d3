//! What `coffer serve` tells whoever started it on stdout: the endpoint, region, metrics
//! URL and any credentials it generated, as `NAME=value` lines or one JSON object
//! (`--print-env`).
//!
//! Lines are printed as each value is known, so a shell can `export` them while the server
//! starts. The JSON object is printed once, when the server is ready, so a harness reads one
//! line and parses it; a value learned later (the credentials a sealed server generates when
//! it is unlocked) comes as a further object.
//!
//! A server run in process ([`crate::in_process`]) announces into a channel instead, with
//! the JSON format's timing: one batch when ready, then one per later announcement.

use std::io::Write as _;
use std::sync::{Mutex, PoisonError};

use anyhow::Context as _;
use zeroize::Zeroizing;

use crate::config::PrintEnv;

/// Announced variables: names and values (which may be secrets).
pub(crate) type Vars = Vec<(String, Zeroizing<String>)>;

/// Where announcements go.
#[derive(Debug)]
enum Out {
    /// stdout, in the `--print-env` format.
    Stdout(PrintEnv),
    /// A channel, to the program the server runs in.
    Channel(tokio::sync::mpsc::UnboundedSender<Vars>),
}

/// Variables for stdout, in the `--print-env` format (or for a channel).
#[derive(Debug)]
pub(crate) struct Announcer {
    out: Out,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// JSON: variables not printed yet (values may be secrets).
    held: Vars,
    /// JSON: the first object is out, so later variables go at once.
    ready: bool,
}

impl Announcer {
    pub(crate) fn new(format: PrintEnv) -> Announcer {
        Announcer::with(Out::Stdout(format))
    }

    /// Announces into `tx` instead of stdout.
    pub(crate) fn to_channel(tx: tokio::sync::mpsc::UnboundedSender<Vars>) -> Announcer {
        Announcer::with(Out::Channel(tx))
    }

    fn with(out: Out) -> Announcer {
        Announcer {
            out,
            state: Mutex::new(State::default()),
        }
    }

    /// Announces `vars` (names and values, in order).
    ///
    /// # Errors
    /// stdout cannot be written.
    pub(crate) fn vars(&self, vars: Vars) -> anyhow::Result<()> {
        if let Out::Stdout(PrintEnv::Lines) = self.out {
            let mut text = Zeroizing::new(String::new());
            for (name, value) in &vars {
                text.push_str(name);
                text.push('=');
                text.push_str(value);
                text.push('\n');
            }
            return print_flushed(&text);
        }
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.held.extend(vars);
        if state.ready {
            self.emit(&mut state.held)
        } else {
            Ok(())
        }
    }

    /// The server is ready: JSON prints what it holds as one object (a channel gets it as
    /// one batch).
    ///
    /// # Errors
    /// stdout cannot be written.
    pub(crate) fn ready(&self) -> anyhow::Result<()> {
        if let Out::Stdout(PrintEnv::Lines) = self.out {
            return Ok(());
        }
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.ready = true;
        self.emit(&mut state.held)
    }

    fn emit(&self, held: &mut Vars) -> anyhow::Result<()> {
        match &self.out {
            Out::Channel(tx) if !held.is_empty() => {
                // A harness that stopped listening has nothing to be told.
                let _ = tx.send(std::mem::take(held));
                Ok(())
            }
            Out::Channel(_) => Ok(()),
            Out::Stdout(_) => print_object(held),
        }
    }
}

/// One variable, for [`Announcer::vars`].
pub(crate) fn var(
    name: impl Into<String>,
    value: impl Into<String>,
) -> (String, Zeroizing<String>) {
    (name.into(), Zeroizing::new(value.into()))
}

fn print_object(held: &mut Vars) -> anyhow::Result<()> {
    if held.is_empty() {
        return Ok(());
    }
    let mut object = serde_json::Map::new();
    for (name, value) in held.drain(..) {
        object.insert(name, serde_json::Value::String(value.to_string()));
    }
    // The printed line is wiped after use (serde_json's own copies are not).
    let mut line = Zeroizing::new(serde_json::Value::Object(object).to_string());
    line.push('\n');
    print_flushed(&line)
}

/// Writes `text` to stdout and flushes it.
///
/// # Errors
/// stdout cannot be written (closed, full disk behind a redirect).
pub(crate) fn print_flushed(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .context("could not write to stdout")
}
