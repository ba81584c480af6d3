//! `coffer config`: the commented example file, and a check of the settings `coffer serve`
//! would run with, each shown with where it came from.

use std::fmt::Write as _;
use std::process::ExitCode;

use crate::config::{ConfigAction, MASTER_KEY_VAR};
use crate::config_file::{Origin, Source};
use crate::config_keys::{KEYS, example};

/// Runs `coffer config`: exits 0, or 2 when `check` finds the settings invalid.
pub(crate) fn run(action: ConfigAction, origin: &Origin) -> ExitCode {
    match action {
        ConfigAction::Example => {
            print!("{}", example());
            ExitCode::SUCCESS
        }
        ConfigAction::Check(args) => {
            print!("{}", settings(origin));
            let master_key_set = std::env::var_os(MASTER_KEY_VAR).is_some_and(|v| !v.is_empty());
            match origin.validate(args, master_key_set) {
                Ok(_) => {
                    println!("# valid");
                    ExitCode::SUCCESS
                }
                Err(error) => {
                    eprintln!("coffer: {error}");
                    ExitCode::from(2)
                }
            }
        }
    }
}

/// Every key's effective value and source, one per line, as TOML with a comment. Nothing
/// here is secret: the file and the flags hold none.
fn settings(origin: &Origin) -> String {
    let mut out = String::new();
    match origin.file_path() {
        Some(path) => {
            let _ = writeln!(out, "# config file: {path}");
        }
        None => out.push_str("# no config file\n"),
    }
    for key in KEYS {
        let source = origin.source(key);
        let line = match (origin.value(key), &source) {
            (Some(value), _) if source != Source::Unset => {
                let from = match &source {
                    Source::Flag => "flag".to_owned(),
                    Source::Env(var) => format!("env {var}"),
                    Source::File => "file".to_owned(),
                    Source::Default | Source::Unset => "default".to_owned(),
                };
                writeln!(out, "{} = {value}  # {from}", key.dotted())
            }
            _ => writeln!(out, "# {} is not set", key.dotted()),
        };
        // Writing to a String cannot fail.
        debug_assert!(line.is_ok());
    }
    out
}
