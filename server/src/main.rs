//! `coffer`: the Coffer S3 server binary (see the `coffer_server` library).
#![forbid(unsafe_code)]

#[tokio::main]
async fn main() -> std::process::ExitCode {
    coffer_server::run().await
}
