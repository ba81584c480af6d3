//! `coffer-load`: a small load generator for any S3 endpoint.
//!
//! It PUTs and then GETs `--count` objects of `--size` bytes with
//! `--concurrency` requests in flight, and prints throughput and latency
//! percentiles per phase. Point it at Coffer and at a peer (e.g. `s3s-fs`) in
//! the same run to get the ratios `benches/README.md` reports.
//!
//! Credentials and endpoint come from the usual `AWS_*` variables, which is
//! what `coffer serve --ephemeral` prints.

#![allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)] // throughput statistics on counts and sizes

use aws_credential_types::Credentials;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::{Region, retry::RetryConfig};
use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;
use clap::Parser;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// Load generator for S3 endpoints (reads AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID,
/// AWS_SECRET_ACCESS_KEY, AWS_REGION).
#[derive(Parser)]
struct Args {
    /// Bucket to use (created if missing).
    #[arg(long, default_value = "coffer-load")]
    bucket: String,
    /// Object size in bytes (suffixes k, m, g = KiB, MiB, GiB).
    #[arg(long, default_value = "64k", value_parser = parse_size)]
    size: u64,
    /// Number of objects per phase.
    #[arg(long, default_value_t = 1000)]
    count: usize,
    /// Requests in flight.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Phases to run, in order: put, get, or both.
    #[arg(long, default_value = "put,get")]
    phases: String,
    /// Give every object the same body (measures deduplication) instead of
    /// distinct bodies.
    #[arg(long)]
    same_body: bool,
}

fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim().to_ascii_lowercase();
    let (num, mult) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1u64 << 10),
        Some('m') => (&t[..t.len() - 1], 1 << 20),
        Some('g') => (&t[..t.len() - 1], 1 << 30),
        _ => (t.as_str(), 1),
    };
    num.parse::<u64>()
        .map(|n| n * mult)
        .map_err(|e| format!("bad size {text:?}: {e}"))
}

fn env(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("{name} is not set"))
}

fn client() -> Result<Client, String> {
    let config = aws_sdk_s3::Config::builder()
        .behavior_version_latest()
        .endpoint_url(env("AWS_ENDPOINT_URL")?)
        .region(Region::new(
            env("AWS_REGION").unwrap_or_else(|_| "us-east-1".into()),
        ))
        .credentials_provider(Credentials::new(
            env("AWS_ACCESS_KEY_ID")?,
            env("AWS_SECRET_ACCESS_KEY")?,
            None,
            None,
            "env",
        ))
        .force_path_style(true)
        .retry_config(RetryConfig::disabled())
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    Ok(Client::from_conf(config))
}

/// A cheap, distinct body per object: one random-ish buffer with the object's
/// index stamped into its first bytes.
fn body(base: &Bytes, index: usize, same: bool) -> Bytes {
    if same || base.len() < 8 {
        return base.clone();
    }
    let mut v = base.to_vec();
    v[..8].copy_from_slice(&(index as u64).to_le_bytes());
    Bytes::from(v)
}

fn report(phase: &str, size: u64, mut latencies: Vec<Duration>, elapsed: Duration) {
    latencies.sort();
    let n = latencies.len();
    let pct = |p: f64| {
        let i = ((n as f64 * p).ceil() as usize).clamp(1, n.max(1)) - 1;
        latencies.get(i).copied().unwrap_or_default()
    };
    let secs = elapsed.as_secs_f64();
    println!(
        "{phase}: {n} objects x {size} B in {secs:.2} s: {:.0} ops/s, {:.1} MiB/s, p50 {:.2} ms, p99 {:.2} ms",
        n as f64 / secs,
        (n as f64 * size as f64) / secs / f64::from(1 << 20),
        pct(0.50).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
    );
}

async fn run_phase(s3: &Client, args: &Args, phase: &str, base: &Bytes) -> Result<(), String> {
    let sem = Arc::new(Semaphore::new(args.concurrency));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(args.count);
    for i in 0..args.count {
        let permit = sem
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| e.to_string())?;
        let (s3, bucket, key) = (s3.clone(), args.bucket.clone(), format!("obj-{i:08}"));
        let data = (phase == "put").then(|| body(base, i, args.same_body));
        tasks.push(tokio::spawn(async move {
            let t = Instant::now();
            let result = match data {
                Some(data) => s3
                    .put_object()
                    .bucket(bucket)
                    .key(key)
                    .body(ByteStream::from(data))
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| format!("{e:?}")),
                None => match s3.get_object().bucket(bucket).key(key).send().await {
                    Ok(out) => out
                        .body
                        .collect()
                        .await
                        .map(|_| ())
                        .map_err(|e| e.to_string()),
                    Err(e) => Err(format!("{e:?}")),
                },
            };
            drop(permit);
            result.map(|()| t.elapsed())
        }));
    }
    let mut latencies = Vec::with_capacity(args.count);
    for task in tasks {
        latencies.push(task.await.map_err(|e| e.to_string())??);
    }
    report(phase, args.size, latencies, started.elapsed());
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let args = Args::parse();
    let s3 = client()?;
    if s3.head_bucket().bucket(&args.bucket).send().await.is_err() {
        s3.create_bucket()
            .bucket(&args.bucket)
            .send()
            .await
            .map_err(|e| format!("create bucket: {e:?}"))?;
    }
    let size = usize::try_from(args.size).map_err(|e| e.to_string())?;
    // xorshift fill: incompressible enough, and fast for GiB-sized bodies.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let base: Bytes = (0..size)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x.to_le_bytes()[0]
        })
        .collect::<Vec<u8>>()
        .into();
    for phase in args.phases.split(',').map(str::trim) {
        match phase {
            "put" | "get" => run_phase(&s3, &args, phase, &base).await?,
            other => return Err(format!("unknown phase {other:?} (put, get)")),
        }
    }
    Ok(())
}
