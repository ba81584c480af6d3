//! The keys of the `--config` file, each naming the `serve` flag it sets, and the
//! commented example `coffer config example` prints from them.
//!
//! A key holds no parser, default or help text of its own: those stay on the clap flag,
//! and the example reads them from there, so file, flags and example cannot drift apart
//! (`config_file.rs` says how the file's values reach the flags).

use std::fmt::Write as _;

use clap::{Arg, CommandFactory as _};

use crate::config::Cli;

/// What a key takes, in TOML, and how an error describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A string naming a file or directory.
    Path,
    /// A string.
    Text,
    /// A string holding an address and port.
    Address,
    /// A non-negative integer.
    Count,
    /// `true` or `false`.
    Switch,
    /// An array of strings.
    Names,
    /// A string, one of the flag's possible values.
    Choice,
}

/// One key of the file and the flag it sets.
#[derive(Debug)]
pub(crate) struct Key {
    /// The `[section]` it sits in.
    pub(crate) section: &'static str,
    /// Its name within the section.
    pub(crate) name: &'static str,
    /// The clap id of the flag it sets (a field of `ServeArgs`, or of `Cli` for `log`).
    pub(crate) arg: &'static str,
    /// What it takes.
    pub(crate) kind: Kind,
    /// A TOML value shown, commented out, in the example when the flag has no default.
    pub(crate) example: &'static str,
}

impl Key {
    /// `section.name`, as errors and `coffer config check` print it.
    pub(crate) fn dotted(&self) -> String {
        format!("{}.{}", self.section, self.name)
    }

    /// Whether the flag is the global `--log-format` of `Cli` rather than one of `serve`.
    pub(crate) fn is_global(&self) -> bool {
        self.section == "log"
    }
}

/// Shorthand for the rows of [`KEYS`].
const fn key(
    section: &'static str,
    name: &'static str,
    arg: &'static str,
    kind: Kind,
    example: &'static str,
) -> Key {
    Key {
        section,
        name,
        arg,
        kind,
        example,
    }
}

/// Every key of the file, in the example's order. Sections group what an operator changes
/// together; names are the flag's without the section's prefix.
pub(crate) const KEYS: &[Key] = &[
    key("data", "dir", "data", Kind::Path, "\"/var/lib/coffer\""),
    key("data", "ephemeral", "ephemeral", Kind::Switch, ""),
    key("data", "in_memory", "in_memory", Kind::Switch, ""),
    key("data", "max_memory", "max_memory", Kind::Text, ""),
    key("data", "users", "users", Kind::Count, ""),
    key(
        "data",
        "buckets",
        "buckets",
        Kind::Names,
        "[\"photos\", \"scans\"]",
    ),
    key("data", "versioning", "versioning", Kind::Switch, ""),
    key(
        "data",
        "test_credentials",
        "test_credentials",
        Kind::Switch,
        "",
    ),
    key(
        "data",
        "exit_with_parent",
        "exit_with_parent",
        Kind::Choice,
        "",
    ),
    key("data", "durability", "durability", Kind::Choice, ""),
    key("data", "chunk_size", "chunk_size", Kind::Count, ""),
    key(
        "chunk_store",
        "location",
        "chunk_store",
        Kind::Text,
        "\"s3://clinic-chunks/coffer\"",
    ),
    key(
        "chunk_store",
        "endpoint",
        "chunk_store_endpoint",
        Kind::Text,
        "\"https://s3.eu-central-1.amazonaws.com\"",
    ),
    key(
        "chunk_store",
        "region",
        "chunk_store_region",
        Kind::Text,
        "",
    ),
    key("chunk_store", "cache_size", "cache_size", Kind::Text, ""),
    key(
        "chunk_store",
        "ship_interval",
        "ship_interval",
        Kind::Count,
        "",
    ),
    key(
        "chunk_store",
        "ship_each_commit",
        "ship_each_commit",
        Kind::Switch,
        "",
    ),
    key(
        "chunk_store",
        "lease_duration",
        "lease_duration",
        Kind::Count,
        "",
    ),
    key(
        "chunk_store",
        "standby_of",
        "standby_of",
        Kind::Text,
        "\"s3://clinic-chunks/coffer\"",
    ),
    key(
        "chunk_store",
        "deployment",
        "deployment",
        Kind::Text,
        "\"0123456789abcdef0123456789abcdef\"",
    ),
    key(
        "keys",
        "master_key_file",
        "master_key_file",
        Kind::Path,
        "\"/run/secrets/coffer.key\"",
    ),
    key(
        "keys",
        "passphrase_file",
        "passphrase_file",
        Kind::Path,
        "\"/run/secrets/coffer-passphrase\"",
    ),
    key(
        "keys",
        "master_key_in_data_dir",
        "master_key_in_data_dir",
        Kind::Switch,
        "",
    ),
    key(
        "listen",
        "address",
        "listen",
        Kind::Address,
        "\"127.0.0.1:9000\"",
    ),
    key("listen", "print_env", "print_env", Kind::Choice, ""),
    key("listen", "insecure_http", "insecure_http", Kind::Switch, ""),
    key(
        "listen",
        "shutdown_grace",
        "shutdown_grace",
        Kind::Count,
        "",
    ),
    key(
        "tls",
        "cert",
        "tls_cert",
        Kind::Path,
        "\"/etc/coffer/cert.pem\"",
    ),
    key(
        "tls",
        "key",
        "tls_key",
        Kind::Path,
        "\"/etc/coffer/key.pem\"",
    ),
    key("s3", "region", "region", Kind::Text, ""),
    key(
        "s3",
        "domains",
        "domains",
        Kind::Names,
        "[\"files.clinic.example\"]",
    ),
    key(
        "limits",
        "max_connections",
        "max_connections",
        Kind::Count,
        "",
    ),
    key(
        "limits",
        "max_connections_per_address",
        "max_connections_per_address",
        Kind::Count,
        "",
    ),
    key(
        "limits",
        "header_timeout",
        "header_timeout",
        Kind::Count,
        "",
    ),
    key("limits", "idle_timeout", "idle_timeout", Kind::Count, ""),
    key("limits", "max_uploads", "max_uploads", Kind::Count, ""),
    key(
        "limits",
        "post_form_max_size",
        "post_form_max_size",
        Kind::Count,
        "",
    ),
    key(
        "limits",
        "presigned_max_expiry",
        "presigned_max_expiry",
        Kind::Count,
        "",
    ),
    key(
        "limits",
        "multipart_max_age",
        "multipart_max_age",
        Kind::Count,
        "",
    ),
    key(
        "limits",
        "lifecycle_interval",
        "lifecycle_interval",
        Kind::Count,
        "",
    ),
    key("audit", "disabled", "no_audit", Kind::Switch, ""),
    key("audit", "retention", "audit_retention", Kind::Text, ""),
    key(
        "audit",
        "bucket_log_interval",
        "bucket_log_interval",
        Kind::Count,
        "",
    ),
    key(
        "metrics",
        "listen",
        "metrics_listen",
        Kind::Address,
        "\"127.0.0.1:9477\"",
    ),
    key(
        "metrics",
        "allow_remote",
        "metrics_allow_remote",
        Kind::Switch,
        "",
    ),
    key("scrub", "every", "scrub_every", Kind::Count, ""),
    key("scrub", "rate", "scrub_rate", Kind::Count, ""),
    key("log", "format", "log_format", Kind::Choice, ""),
];

/// The whole command line definition, built: global flags copied into subcommands, and
/// the implicit defaults (`false` for switches) and value parsers in place.
pub(crate) fn built() -> clap::Command {
    let mut cmd = Cli::command();
    cmd.build();
    cmd
}

/// The clap definition of `key`'s flag.
pub(crate) fn arg_of(cmd: &clap::Command, key: &Key) -> Option<Arg> {
    let owner = if key.is_global() {
        Some(cmd)
    } else {
        cmd.find_subcommand("serve")
    };
    owner?
        .get_arguments()
        .find(|arg| arg.get_id() == key.arg)
        .cloned()
}

/// `values` written as a TOML value of `kind`.
pub(crate) fn toml_literal(kind: Kind, values: &[String]) -> String {
    match kind {
        Kind::Count | Kind::Switch => values.join(","),
        Kind::Names => {
            let items: Vec<String> = values.iter().map(|v| toml_string(v)).collect();
            format!("[{}]", items.join(", "))
        }
        Kind::Path | Kind::Text | Kind::Address | Kind::Choice => {
            toml_string(values.first().map_or("", String::as_str))
        }
    }
}

/// `text` as a TOML basic string.
fn toml_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The commented example file: every key, with its default value, or commented out with an
/// example value when its flag has none. It parses to the built-in defaults.
pub(crate) fn example() -> String {
    let cmd = built();
    let mut out = String::from(
        "# Coffer configuration, read by `coffer serve --config PATH` (or COFFER_CONFIG=PATH).\n\
         #\n\
         # Every key is optional. A flag, or its COFFER_* variable, overrides the file; the\n\
         # values below are the built-in defaults, and a commented-out key has none. Unknown\n\
         # keys are refused. No secret goes here: key and passphrase files are named by path,\n\
         # and the master key (COFFER_MASTER_KEY) and the root credential\n\
         # (COFFER_ROOT_ACCESS_KEY, COFFER_ROOT_SECRET_KEY) come only from the environment.\n",
    );
    let mut section = "";
    for key in KEYS {
        let Some(arg) = arg_of(&cmd, key) else {
            continue;
        };
        if key.section != section {
            section = key.section;
            let _ = write!(out, "\n[{section}]\n");
        }
        out.push('\n');
        let mut help = arg
            .get_long_help()
            .or_else(|| arg.get_help())
            .map(ToString::to_string)
            .unwrap_or_default();
        // clap drops the full stop of a one-sentence doc comment; the example is prose.
        if help.ends_with(|c: char| c.is_alphanumeric() || c == ')' || c == ']') {
            help.push('.');
        }
        for line in wrap(&help, 88) {
            let _ = writeln!(out, "# {line}");
        }
        let flag = arg.get_long().unwrap_or(key.arg);
        match arg.get_env() {
            Some(var) => {
                let _ = writeln!(out, "# --{flag}, {}", var.to_string_lossy());
            }
            None => {
                let _ = writeln!(out, "# --{flag}");
            }
        }
        let defaults: Vec<String> = arg
            .get_default_values()
            .iter()
            .map(|v| v.to_string_lossy().into_owned())
            .collect();
        if defaults.is_empty() {
            let _ = writeln!(out, "# {} = {}", key.name, key.example);
        } else {
            let _ = writeln!(out, "{} = {}", key.name, toml_literal(key.kind, &defaults));
        }
    }
    out
}

/// `text`'s words in lines of at most `width` characters (a longer word stands alone).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.len() + 1 + word.len() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_serve_flag_has_a_key_and_every_key_a_flag() {
        let cmd = Cli::command();
        for key in KEYS {
            assert!(arg_of(&cmd, key).is_some(), "{} sets no flag", key.dotted());
            let same = KEYS.iter().filter(|other| other.arg == key.arg).count();
            assert_eq!(same, 1, "{} shares its flag", key.dotted());
        }
        let serve = cmd.find_subcommand("serve").unwrap();
        for arg in serve.get_arguments() {
            let id = arg.get_id().as_str();
            // `--config` itself; help is clap's.
            if id == "config" || id == "help" || arg.is_global_set() {
                continue;
            }
            assert!(
                KEYS.iter().any(|key| key.arg == id),
                "--{id} has no key in the config file"
            );
        }
    }

    #[test]
    fn keys_take_the_type_their_flag_parses() {
        let cmd = built();
        for key in KEYS {
            let arg = arg_of(&cmd, key).unwrap();
            let takes_bool = matches!(arg.get_action(), clap::ArgAction::SetTrue);
            assert_eq!(key.kind == Kind::Switch, takes_bool, "{}", key.dotted());
            let takes_many = matches!(arg.get_action(), clap::ArgAction::Append);
            assert_eq!(key.kind == Kind::Names, takes_many, "{}", key.dotted());
            assert_eq!(
                arg.get_default_values().is_empty(),
                !key.example.is_empty(),
                "{}: an example value exactly when the flag has no default",
                key.dotted()
            );
        }
    }
}
