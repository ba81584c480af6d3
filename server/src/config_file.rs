//! The `--config` TOML file of `coffer serve`: how a file is read and checked, and how its
//! values reach the flags (the keys themselves are in `config_keys.rs`).
//!
//! # Design
//!
//! Each key of the file sets one `serve` flag, listed once in [`KEYS`]. Its parser, default,
//! help text and `COFFER_*` variable stay where they already were, on the clap flag, and
//! the file's values become the flags' defaults before the command line is parsed again.
//! So clap alone decides precedence, exactly as for variables: a flag beats its variable,
//! which beats the file, which beats the built-in default. Values are checked with the
//! flag's own parser, so the file accepts what the flag accepts; an error names the key.
//! The example is generated from [`KEYS`] and the clap flags, so it cannot drift from them.
//!
//! The file holds no secret. Key and passphrase files are named by path, as with the flags;
//! the master key and the root credential have no flag and no key, and come only from the
//! environment: a config file is copied, committed and backed up far more freely than a
//! secrets mount.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::parser::ValueSource;
use clap::{Arg, ArgMatches, CommandFactory as _, FromArgMatches as _};

use crate::config::{Cli, Config, ConfigError, ServeArgs};
use crate::config_keys::{KEYS, Key, Kind, arg_of, built, toml_literal};

/// A config file that cannot be used, or settings that do not validate. Each message names
/// the file and the key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum ConfigFileError {
    /// The file could not be read.
    #[error("config {path}: cannot read it: {source}")]
    Read {
        /// The file, as given.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Not TOML.
    #[error("config {path}: {message}")]
    Syntax {
        /// The file, as given.
        path: String,
        /// The parser's message, with line and column.
        message: String,
    },
    /// A key (or section) Coffer does not have: most likely a typo, which must not be
    /// silently ignored.
    #[error("config {path}: unknown key \"{key}\"; {known}")]
    UnknownKey {
        /// The file, as given.
        path: String,
        /// The key, dotted.
        key: String,
        /// The keys (or sections) that would have been accepted there.
        known: String,
    },
    /// A value of the wrong TOML type.
    #[error("config {path}: key \"{key}\" must be {expected}, not a {found}")]
    WrongType {
        /// The file, as given.
        path: String,
        /// The key, dotted.
        key: String,
        /// What it takes.
        expected: String,
        /// The TOML type given.
        found: &'static str,
    },
    /// A value the flag's parser refuses.
    #[error("config {path}: key \"{key}\" = {value} is not {expected}")]
    BadValue {
        /// The file, as given.
        path: String,
        /// The key, dotted.
        key: String,
        /// The value, as TOML.
        value: String,
        /// What it takes.
        expected: String,
    },
    /// A value from the file that parses but does not validate (out of range, say).
    #[error("config {path}: key \"{key}\": {source}")]
    Invalid {
        /// The file, as given.
        path: String,
        /// The key, dotted.
        key: String,
        /// The check that failed, naming the flag.
        source: ConfigError,
    },
    /// Settings that do not validate, from flags, variables or defaults.
    #[error(transparent)]
    Settings(#[from] ConfigError),
}

/// Why the command line could not be parsed.
#[derive(Debug)]
pub(crate) enum ParseError {
    /// clap's own error (or `--help`/`--version`): `exit()` prints it.
    Clap(clap::Error),
    /// The `--config` file.
    File(ConfigFileError),
}

impl From<clap::Error> for ParseError {
    fn from(error: clap::Error) -> Self {
        ParseError::Clap(error)
    }
}

impl From<ConfigFileError> for ParseError {
    fn from(error: ConfigFileError) -> Self {
        ParseError::File(error)
    }
}

/// The parsed command line, and what `serve` settings came from.
#[derive(Debug)]
pub(crate) struct Parsed {
    /// The command, with the file's settings merged in.
    pub(crate) cli: Cli,
    /// Where each setting came from.
    pub(crate) origin: Origin,
}

/// Where each setting of a parse came from, to name the file's key in errors and to show
/// sources in `coffer config check`.
#[derive(Debug)]
pub(crate) struct Origin {
    matches: ArgMatches,
    file: Option<FileSettings>,
}

/// Where one setting's value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Source {
    /// A flag on the command line.
    Flag,
    /// Its `COFFER_*` variable.
    Env(String),
    /// The config file.
    File,
    /// The built-in default.
    Default,
    /// Not set at all (a flag without a default).
    Unset,
}

/// The values a config file gives, checked against their flags' parsers.
#[derive(Debug)]
struct FileSettings {
    /// The file, as given (for messages).
    path: String,
    /// Each key given, with its values as the flag would take them.
    values: Vec<(&'static Key, Vec<String>)>,
}

/// Parses the process's command line, with the `--config` file's settings, if any, as the
/// defaults of the `serve` flags.
///
/// # Errors
/// As [`parse_from`].
pub(crate) fn parse() -> Result<Parsed, ParseError> {
    parse_from(std::env::args_os())
}

/// Parses `argv` (program name first); reads `--config` (or `COFFER_CONFIG`) when the
/// command is `serve` or `config check`.
///
/// # Errors
/// clap refuses the command line, or the config file cannot be read, is not TOML, or has
/// an unknown key or a bad value.
pub(crate) fn parse_from<I, T>(argv: I) -> Result<Parsed, ParseError>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString>,
{
    let argv: Vec<OsString> = argv.into_iter().map(Into::into).collect();
    let matches = Cli::command().try_get_matches_from(&argv)?;
    let path = serve_matches(&matches).and_then(|m| m.get_one::<PathBuf>("config").cloned());
    let Some(path) = path else {
        let cli = Cli::from_arg_matches(&matches)?;
        let origin = Origin {
            matches,
            file: None,
        };
        return Ok(Parsed { cli, origin });
    };
    let file = FileSettings::load(&path)?;
    // Parsed again with the file's values as defaults: clap then resolves precedence.
    let matches = file.apply(Cli::command()).try_get_matches_from(&argv)?;
    let cli = Cli::from_arg_matches(&matches)?;
    let origin = Origin {
        matches,
        file: Some(file),
    };
    Ok(Parsed { cli, origin })
}

/// The matches holding the `serve` flags: of `serve` or of `config check`.
fn serve_matches(matches: &ArgMatches) -> Option<&ArgMatches> {
    matches.subcommand_matches("serve").or_else(|| {
        matches
            .subcommand_matches("config")
            .and_then(|m| m.subcommand_matches("check"))
    })
}

impl Origin {
    /// Validates `args` into a [`Config`]; when the setting at fault came from the file,
    /// the error names its key.
    ///
    /// # Errors
    /// As [`Config::from_args`].
    pub(crate) fn validate(
        &self,
        args: ServeArgs,
        master_key_env_set: bool,
    ) -> Result<Config, ConfigFileError> {
        Config::from_args(args, master_key_env_set).map_err(|error| {
            let from_file = error
                .setting()
                .and_then(|arg| KEYS.iter().find(|key| key.arg == arg))
                .filter(|key| self.source(key) == Source::File);
            match (from_file, &self.file) {
                (Some(key), Some(file)) => ConfigFileError::Invalid {
                    path: file.path.clone(),
                    key: key.dotted(),
                    source: error,
                },
                _ => ConfigFileError::Settings(error),
            }
        })
    }

    /// Where `key`'s setting came from.
    pub(crate) fn source(&self, key: &Key) -> Source {
        let matches = if key.is_global() {
            Some(&self.matches)
        } else {
            serve_matches(&self.matches)
        };
        let Some(matches) = matches else {
            return Source::Unset;
        };
        match matches.value_source(key.arg) {
            Some(ValueSource::CommandLine) => Source::Flag,
            Some(ValueSource::EnvVariable) => {
                let var = arg_of(&built(), key)
                    .and_then(|arg| arg.get_env().map(|v| v.to_string_lossy().into_owned()))
                    .unwrap_or_default();
                Source::Env(var)
            }
            Some(_) if self.file_has(key) => Source::File,
            Some(_) => Source::Default,
            None => Source::Unset,
        }
    }

    /// The path of the config file read, if any.
    pub(crate) fn file_path(&self) -> Option<&str> {
        self.file.as_ref().map(|file| file.path.as_str())
    }

    /// `key`'s effective value as TOML, `None` if unset.
    pub(crate) fn value(&self, key: &Key) -> Option<String> {
        let matches = if key.is_global() {
            Some(&self.matches)
        } else {
            serve_matches(&self.matches)
        };
        let matches = matches?;
        if key.kind == Kind::Switch {
            // A switch given on the command line has no raw value to show.
            return matches
                .try_get_one::<bool>(key.arg)
                .ok()
                .flatten()
                .map(ToString::to_string);
        }
        let raw: Vec<String> = matches
            .try_get_raw(key.arg)
            .ok()??
            .map(|v| v.to_string_lossy().into_owned())
            .collect();
        Some(toml_literal(key.kind, &raw))
    }

    fn file_has(&self, key: &Key) -> bool {
        self.file
            .as_ref()
            .is_some_and(|file| file.values.iter().any(|(k, _)| k.arg == key.arg))
    }
}

impl FileSettings {
    /// Reads and checks the file at `path`.
    fn load(path: &Path) -> Result<FileSettings, ConfigFileError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigFileError::Read {
            path: shown.clone(),
            source,
        })?;
        FileSettings::parse(&shown, &text)
    }

    /// Checks `text`, read from `path`: every key known, every value of its type and
    /// accepted by its flag's parser.
    fn parse(path: &str, text: &str) -> Result<FileSettings, ConfigFileError> {
        let table: toml::Table =
            text.parse()
                .map_err(|e: toml::de::Error| ConfigFileError::Syntax {
                    path: path.to_owned(),
                    message: e.to_string().trim_end().to_owned(),
                })?;
        let cmd = built();
        let mut values = Vec::new();
        for (section, entries) in &table {
            if !KEYS.iter().any(|key| key.section == section.as_str()) {
                return Err(ConfigFileError::UnknownKey {
                    path: path.to_owned(),
                    key: section.clone(),
                    known: format!("the sections are {}", sections().join(", ")),
                });
            }
            let toml::Value::Table(entries) = entries else {
                return Err(ConfigFileError::WrongType {
                    path: path.to_owned(),
                    key: section.clone(),
                    expected: format!("a table ([{section}])"),
                    found: entries.type_str(),
                });
            };
            for (name, value) in entries {
                let dotted = format!("{section}.{name}");
                let Some(key) = KEYS
                    .iter()
                    .find(|key| key.section == section.as_str() && key.name == name.as_str())
                else {
                    let names: Vec<&str> = KEYS
                        .iter()
                        .filter(|key| key.section == section.as_str())
                        .map(|key| key.name)
                        .collect();
                    return Err(ConfigFileError::UnknownKey {
                        path: path.to_owned(),
                        key: dotted,
                        known: format!("[{section}] takes {}", names.join(", ")),
                    });
                };
                let arg = arg_of(&cmd, key).ok_or_else(|| ConfigFileError::UnknownKey {
                    path: path.to_owned(),
                    key: dotted.clone(),
                    known: "this build has no flag for it".to_owned(),
                })?;
                let strings =
                    flag_values(key, value).ok_or_else(|| ConfigFileError::WrongType {
                        path: path.to_owned(),
                        key: dotted.clone(),
                        expected: expected(key, &arg),
                        found: value.type_str(),
                    })?;
                for one in &strings {
                    if !parses(&arg, one) {
                        return Err(ConfigFileError::BadValue {
                            path: path.to_owned(),
                            key: dotted,
                            value: toml_literal(key.kind, &strings),
                            expected: expected(key, &arg),
                        });
                    }
                }
                values.push((key, strings));
            }
        }
        Ok(FileSettings {
            path: path.to_owned(),
            values,
        })
    }

    /// `cmd` with the file's values as the defaults of their flags, in `serve` and in
    /// `config check`.
    fn apply(&self, mut cmd: clap::Command) -> clap::Command {
        for (key, values) in &self.values {
            let set = |arg: Arg| arg.default_values(values.clone());
            cmd = if key.is_global() {
                cmd.mut_arg(key.arg, set)
            } else {
                cmd.mut_subcommand("serve", |serve| serve.mut_arg(key.arg, set))
                    .mut_subcommand("config", |config| {
                        config.mut_subcommand("check", |check| check.mut_arg(key.arg, set))
                    })
            };
        }
        cmd
    }
}

/// Whether `arg`'s parser takes `value`, as it would from the command line or variable.
/// (clap keeps the parser's own entry point private; a one-argument command reaches it.)
fn parses(arg: &Arg, value: &str) -> bool {
    let probe = Arg::new("value")
        .value_parser(arg.get_value_parser().clone())
        .allow_hyphen_values(true)
        .required(true);
    clap::Command::new("probe")
        .no_binary_name(true)
        .arg(probe)
        .try_get_matches_from([value])
        .is_ok()
}

/// The sections, in order, each once.
fn sections() -> Vec<&'static str> {
    let mut sections: Vec<&'static str> = Vec::new();
    for key in KEYS {
        if !sections.contains(&key.section) {
            sections.push(key.section);
        }
    }
    sections
}

/// `value` as the strings the flag takes, `None` if it is not of `key`'s TOML type.
fn flag_values(key: &Key, value: &toml::Value) -> Option<Vec<String>> {
    match (key.kind, value) {
        (Kind::Path | Kind::Text | Kind::Address | Kind::Choice, toml::Value::String(s)) => {
            Some(vec![s.clone()])
        }
        (Kind::Count, toml::Value::Integer(n)) => Some(vec![n.to_string()]),
        (Kind::Switch, toml::Value::Boolean(b)) => Some(vec![b.to_string()]),
        (Kind::Names, toml::Value::Array(items)) => items
            .iter()
            .map(|item| item.as_str().map(str::to_owned))
            .collect(),
        _ => None,
    }
}

/// What `key` takes, for an error message.
fn expected(key: &Key, arg: &Arg) -> String {
    match key.kind {
        Kind::Path => "a path (a string)".to_owned(),
        Kind::Text => "a string".to_owned(),
        Kind::Address => "an address and port in a string, such as \"127.0.0.1:9000\"".to_owned(),
        Kind::Count => "a whole number, 0 or more".to_owned(),
        Kind::Switch => "true or false".to_owned(),
        Kind::Names => "an array of strings, such as [\"files.clinic.example\"]".to_owned(),
        Kind::Choice => {
            let choices: Vec<String> = arg
                .get_possible_values()
                .iter()
                .map(|v| format!("\"{}\"", v.get_name()))
                .collect();
            format!("one of {}", choices.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Command;
    use crate::config_keys::example;

    /// A config file in a fresh temporary directory (kept alive by the returned guard).
    fn file(text: &str) -> (tempfile::TempDir, String) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("coffer.toml");
        std::fs::write(&path, text).unwrap();
        let path = path.to_str().unwrap().to_owned();
        (dir, path)
    }

    /// `coffer serve FLAGS`, validated.
    fn serve(flags: &[&str]) -> Result<Config, ConfigFileError> {
        let mut argv = vec!["coffer", "serve"];
        argv.extend_from_slice(flags);
        let parsed = match parse_from(argv) {
            Ok(parsed) => parsed,
            Err(ParseError::File(error)) => return Err(error),
            Err(ParseError::Clap(error)) => panic!("{error}"),
        };
        let Command::Serve(flags) = parsed.cli.command else {
            unreachable!("parsed a serve command line")
        };
        parsed.origin.validate(flags, false)
    }

    #[test]
    fn the_example_parses_to_the_defaults_and_names_every_key() {
        let text = example();
        for key in KEYS {
            let line = format!("\n{} = ", key.name);
            let commented = format!("\n# {} = ", key.name);
            assert!(
                text.contains(&line) || text.contains(&commented),
                "{} missing",
                key.dotted()
            );
        }
        let (_dir, path) = file(&text);
        for mode in [&["--data", "/srv/coffer"][..], &["--ephemeral"]] {
            let plain = serve(mode).unwrap();
            let from_example = serve(&[mode, &["--config", &path]].concat()).unwrap();
            assert_eq!(format!("{plain:?}"), format!("{from_example:?}"));
        }
        // Uncommented, every example value is also accepted.
        let uncommented = text.replace("\n# dir = ", "\ndir = ");
        let uncommented: String = uncommented
            .lines()
            .map(|line| {
                let bare = line.trim_start_matches("# ");
                if KEYS
                    .iter()
                    .any(|key| bare.starts_with(&format!("{} = ", key.name)))
                {
                    bare
                } else {
                    line
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        let settings = FileSettings::parse("example", &uncommented).unwrap();
        assert_eq!(settings.values.len(), KEYS.len());
    }

    #[test]
    fn a_flag_beats_the_file_and_the_file_beats_the_default() {
        let (_dir, path) = file(
            "[listen]\naddress = \"127.0.0.1:9100\"\n\
             [limits]\nmax_uploads = 5\nmax_connections = 70\n\
             [s3]\nregion = \"eu-west-3\"\ndomains = [\"a.example\", \"b.example\"]\n\
             [audit]\ndisabled = true\n",
        );
        let c = serve(&["--ephemeral", "--config", &path, "--max-uploads", "7"]).unwrap();
        assert_eq!(c.max_uploads, 7, "flag beats file");
        assert_eq!(c.limits.max_connections, 70, "file beats default");
        assert_eq!(c.listen, "127.0.0.1:9100".parse().unwrap());
        assert_eq!(c.region, "eu-west-3");
        assert_eq!(c.domains.len(), 2);
        assert!(!c.audit);
        assert_eq!(c.chunk_size, coffer_storage::DEFAULT_CHUNK_SIZE, "default");
        let c = serve(&["--ephemeral", "--config", &path, "--domain", "c.example"]).unwrap();
        assert_eq!(c.domains.len(), 1, "flags replace a list, not extend it");
    }

    #[test]
    fn relations_span_file_and_flags() {
        let (_dir, path) = file("[tls]\ncert = \"/c.pem\"\n");
        let c = serve(&["--ephemeral", "--config", &path, "--tls-key", "/k.pem"]).unwrap();
        assert!(c.tls.is_some());
        assert!(matches!(
            serve(&["--ephemeral", "--config", &path]).unwrap_err(),
            ConfigFileError::Settings(ConfigError::TlsHalf)
        ));
        let (_dir, path) = file("[data]\ndir = \"/srv/coffer\"\n");
        assert!(matches!(
            serve(&["--config", &path]).unwrap().mode,
            crate::config::Mode::Durable { .. }
        ));
        assert!(matches!(
            serve(&["--ephemeral", "--config", &path]).unwrap_err(),
            ConfigFileError::Settings(ConfigError::DataAndEphemeral)
        ));
    }

    #[test]
    fn an_unknown_key_is_named_with_the_file() {
        let (_dir, path) = file("[listen]\nadress = \"127.0.0.1:9000\"\n");
        let err = serve(&["--ephemeral", "--config", &path]).unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with(&format!("config {path}: unknown key \"listen.adress\"")),
            "{text}"
        );
        assert!(text.contains("address"), "{text}");
        let (_dir, path) = file("[limit]\nmax_uploads = 1\n");
        let text = serve(&["--ephemeral", "--config", &path])
            .unwrap_err()
            .to_string();
        assert!(text.contains("unknown key \"limit\""), "{text}");
        let (_dir, path) = file("region = \"us-east-1\"\n");
        let text = serve(&["--ephemeral", "--config", &path])
            .unwrap_err()
            .to_string();
        assert!(text.contains("unknown key \"region\""), "{text}");
    }

    #[test]
    fn a_bad_value_is_named_with_what_is_expected() {
        for (toml, needle) in [
            (
                "[limits]\nmax_uploads = \"5\"\n",
                "key \"limits.max_uploads\" must be a whole number, 0 or more, not a string",
            ),
            (
                "[limits]\nmax_uploads = -1\n",
                "key \"limits.max_uploads\" = -1 is not a whole number",
            ),
            (
                "[listen]\naddress = \"localhost\"\n",
                "key \"listen.address\" = \"localhost\" is not an address and port",
            ),
            (
                "[audit]\ndisabled = \"yes\"\n",
                "key \"audit.disabled\" must be true or false, not a string",
            ),
            (
                "[log]\nformat = \"xml\"\n",
                "key \"log.format\" = \"xml\" is not one of \"text\", \"json\"",
            ),
            (
                "[s3]\ndomains = \"a.example\"\n",
                "key \"s3.domains\" must be an array of strings",
            ),
            (
                "[limits]\nmax_uploads = 0\n",
                "key \"limits.max_uploads\": --max-uploads must be at least 1",
            ),
            (
                "[data]\nchunk_size = 1000\n",
                "key \"data.chunk_size\": --chunk-size",
            ),
            ("[listen\n", "TOML parse error at line 1"),
        ] {
            let (_dir, path) = file(toml);
            let text = serve(&["--ephemeral", "--config", &path])
                .unwrap_err()
                .to_string();
            assert!(text.starts_with(&format!("config {path}: ")), "{text}");
            assert!(text.contains(needle), "{toml}: {text}");
        }
        // The same bad value from a flag names the flag, not the file.
        let (_dir, path) = file("[limits]\nmax_uploads = 3\n");
        let text = serve(&["--ephemeral", "--config", &path, "--max-uploads", "0"])
            .unwrap_err()
            .to_string();
        assert!(text.starts_with("--max-uploads"), "{text}");
    }

    #[test]
    fn a_missing_file_is_an_error() {
        let text = serve(&["--ephemeral", "--config", "/nonexistent/coffer.toml"])
            .unwrap_err()
            .to_string();
        assert!(
            text.starts_with("config /nonexistent/coffer.toml: cannot read it"),
            "{text}"
        );
    }

    #[test]
    fn log_format_comes_from_the_file_too() {
        let (_dir, path) = file("[log]\nformat = \"json\"\n");
        let parsed = parse_from(["coffer", "serve", "--ephemeral", "--config", &path]).unwrap();
        assert_eq!(parsed.cli.log_format, crate::config::LogFormat::Json);
        let parsed = parse_from([
            "coffer",
            "--log-format",
            "text",
            "serve",
            "--ephemeral",
            "--config",
            &path,
        ])
        .unwrap();
        assert_eq!(parsed.cli.log_format, crate::config::LogFormat::Text);
    }

    #[test]
    fn sources_are_reported() {
        let (_dir, path) = file("[limits]\nmax_uploads = 5\nmax_connections = 70\n");
        let parsed = parse_from([
            "coffer",
            "config",
            "check",
            "--ephemeral",
            "--config",
            &path,
            "--max-uploads",
            "7",
        ])
        .unwrap();
        let find = |name: &str| KEYS.iter().find(|key| key.name == name).unwrap();
        let origin = &parsed.origin;
        assert_eq!(origin.source(find("max_uploads")), Source::Flag);
        assert_eq!(origin.value(find("max_uploads")).unwrap(), "7");
        assert_eq!(origin.source(find("max_connections")), Source::File);
        assert_eq!(origin.source(find("chunk_size")), Source::Default);
        assert_eq!(origin.source(find("cert")), Source::Unset);
        assert_eq!(origin.value(find("cert")), None);
        assert_eq!(origin.value(find("ephemeral")).unwrap(), "true");
        assert_eq!(origin.value(find("region")).unwrap(), "\"us-east-1\"");
    }
}
