//! The Coffer S3 server: the `coffer` command line, and the server run in another
//! program's runtime ([`in_process`], for the `coffer-testing` harness).
//!
//! [`run`] parses the command line, sets up logging and runs the command; `coffer serve`
//! (`serve.rs`) opens the sealed store and the credentials, binds the listener, prints the
//! `AWS_*` lines a client needs, and serves until SIGTERM or ctrl-c. A durable server given
//! no unlocker serves sealed (503) until `coffer unlock` opens its store.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod activity;
mod admin_socket;
mod announce;
mod audit_cmd;
mod audit_trail;
mod audit_view;
mod backup_cmd;
mod bucket_logging;
mod client;
mod config;
mod config_cmd;
mod config_file;
mod config_keys;
mod ephemeral;
mod fsck_cmd;
mod guard;
mod health_cmd;
mod iam;
pub mod in_process;
mod init_cmd;
mod keys_cmd;
mod kms;
mod limits;
mod listener;
mod metrics;
mod metrics_listener;
mod per_address;
mod promote_cmd;
mod remote_store;
mod s3;
mod scrub_cmd;
mod scrub_task;
mod seal_gate;
mod serve;
mod stop;
mod telemetry;
mod tls;
mod unlock_at_start;
mod unlock_input;
mod unlock_socket;
mod users_cmd;

use std::process::ExitCode;

pub(crate) use announce::print_flushed;
use config::{Command, MASTER_KEY_VAR};
pub(crate) use serve::print_root;

/// The `coffer` command: parses the command line (and the config file it names), sets up
/// logging, and runs the command. Call it first thing in `main`.
pub async fn run() -> ExitCode {
    stop::note_parent();
    // Before logging starts, and before anything is opened: a bad config file stops here.
    let config_file::Parsed { cli, origin } = match config_file::parse() {
        Ok(parsed) => parsed,
        Err(config_file::ParseError::Clap(error)) => error.exit(),
        Err(config_file::ParseError::File(error)) => {
            eprintln!("coffer: {error}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(cli.log_format);
    let result = match cli.command {
        Command::Serve(args) => {
            let master_key_set = std::env::var_os(MASTER_KEY_VAR).is_some_and(|v| !v.is_empty());
            match origin.validate(args, master_key_set) {
                Ok(cfg) => {
                    let stop = stop::on_signal(cfg.harness.exit_with_parent);
                    let announcer = announce::Announcer::new(cfg.harness.print_env);
                    serve::serve(cfg, stop, announcer).await
                }
                Err(error) => {
                    eprintln!("coffer: {error}");
                    return ExitCode::from(2);
                }
            }
        }
        Command::Init(args) => init_cmd::run(args).await,
        Command::Unlock(args) => unlock_socket::run(args).await,
        Command::Keys(args) => keys_cmd::run(args).await,
        Command::Users(args) => users_cmd::run(args).await,
        Command::Audit(args) => audit_cmd::run(args).await,
        Command::Health(args) => health_cmd::run(args).await,
        Command::Backup(args) => backup_cmd::run_backup(args).await,
        Command::Restore(args) => backup_cmd::run_restore(args).await,
        Command::Promote(args) => promote_cmd::run(args).await,
        // Its own exit codes: 1 is "problems found", not "failed to run".
        Command::Fsck(args) => return fsck_cmd::run(args).await,
        Command::Scrub(args) => return scrub_cmd::run(args).await,
        Command::Config(args) => return config_cmd::run(args.action, &origin),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("coffer: error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
