//! What `coffer serve` tells whoever started it on stdout: the endpoint, region, metrics
//! URL and any credentials it generated, as `NAME=value` lines or one JSON object
//! (`--print-env`).
//!
//! Lines are printed as each value is known, so a shell can `export` them while the server
//! starts. The JSON object is printed once, when the server is ready, so a harness reads one
//! line and parses it; a value learned later (the credentials a sealed server generates when
//! it is unlocked) comes as a further object.

use std::io::Write as _;
use std::sync::{Mutex, PoisonError};

use anyhow::Context as _;
use zeroize::Zeroizing;

use crate::config::PrintEnv;

/// Variables for stdout, in the `--print-env` format.
#[derive(Debug)]
pub(crate) struct Announcer {
    format: PrintEnv,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// JSON: variables not printed yet (values may be secrets).
    held: Vec<(String, Zeroizing<String>)>,
    /// JSON: the first object is out, so later variables go at once.
    ready: bool,
}

impl Announcer {
    pub(crate) fn new(format: PrintEnv) -> Announcer {
        Announcer {
            format,
            state: Mutex::new(State::default()),
        }
    }

    /// Announces `vars` (names and values, in order).
    ///
    /// # Errors
    /// stdout cannot be written.
    pub(crate) fn vars(&self, vars: Vec<(String, Zeroizing<String>)>) -> anyhow::Result<()> {
        match self.format {
            PrintEnv::Lines => {
                let mut text = Zeroizing::new(String::new());
                for (name, value) in &vars {
                    text.push_str(name);
                    text.push('=');
                    text.push_str(value);
                    text.push('\n');
                }
                print_flushed(&text)
            }
            PrintEnv::Json => {
                let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
                state.held.extend(vars);
                if state.ready {
                    print_object(&mut state.held)
                } else {
                    Ok(())
                }
            }
        }
    }

    /// The server is ready: JSON prints what it holds as one object.
    ///
    /// # Errors
    /// stdout cannot be written.
    pub(crate) fn ready(&self) -> anyhow::Result<()> {
        if self.format == PrintEnv::Lines {
            return Ok(());
        }
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.ready = true;
        print_object(&mut state.held)
    }
}

/// One variable, for [`Announcer::vars`].
pub(crate) fn var(
    name: impl Into<String>,
    value: impl Into<String>,
) -> (String, Zeroizing<String>) {
    (name.into(), Zeroizing::new(value.into()))
}

fn print_object(held: &mut Vec<(String, Zeroizing<String>)>) -> anyhow::Result<()> {
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
