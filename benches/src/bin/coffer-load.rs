//! `coffer-load`: a small load generator for any S3 endpoint.
//!
//! It PUTs and then GETs `--count` objects of `--size` bytes with
//! `--concurrency` requests in flight (and, asked to, lists them with
//! ListObjectsV2), and prints throughput and latency percentiles per phase.
//! Every GET's bytes are compared with what was PUT: a server that answers fast
//! with wrong bytes shows errors, and the run exits non-zero. Point it at Coffer
//! and at a peer (e.g. `s3s-fs`) in the same run to get the ratios
//! `benches/README.md` reports (`scripts/compare.py` does).
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
    /// Phases to run, in order: put, get, list (ListObjectsV2 of the whole
    /// bucket, 1000 keys a page, one request at a time).
    #[arg(long, default_value = "put,get")]
    phases: String,
    /// Print each phase as one JSON object per line instead of words.
    #[arg(long)]
    json: bool,
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

/// Whether `got` is the body `body(base, index, same)` PUT, without building it.
fn is_body(base: &Bytes, index: usize, same: bool, got: &[u8]) -> bool {
    if got.len() != base.len() {
        return false;
    }
    if same || base.len() < 8 {
        return got == base.as_ref();
    }
    got[..8] == (index as u64).to_le_bytes() && got[8..] == base[8..]
}

/// One phase's outcome.
struct Phase<'a> {
    name: &'a str,
    /// Bytes per operation (0 for list).
    size: u64,
    latencies: Vec<Duration>,
    elapsed: Duration,
    errors: usize,
    first_error: Option<String>,
}

impl Phase<'_> {
    fn report(mut self, json: bool) {
        self.latencies.sort();
        let n = self.latencies.len();
        let pct = |p: f64| {
            let i = ((n as f64 * p).ceil() as usize).clamp(1, n.max(1)) - 1;
            self.latencies
                .get(i)
                .copied()
                .unwrap_or_default()
                .as_secs_f64()
                * 1e3
        };
        let secs = self.elapsed.as_secs_f64();
        let ops = n as f64 / secs;
        let mib = (n as f64 * self.size as f64) / secs / f64::from(1 << 20);
        let (name, errors, size) = (self.name, self.errors, self.size);
        if json {
            println!(
                "{{\"phase\":\"{name}\",\"ops\":{n},\"size\":{size},\"secs\":{secs:.4},\"ops_per_s\":{ops:.1},\"mib_per_s\":{mib:.2},\"p50_ms\":{:.3},\"p99_ms\":{:.3},\"errors\":{errors}}}",
                pct(0.50),
                pct(0.99)
            );
        } else {
            println!(
                "{name}: {n} ops x {size} B in {secs:.2} s: {ops:.0} ops/s, {mib:.1} MiB/s, p50 {:.2} ms, p99 {:.2} ms, {errors} errors",
                pct(0.50),
                pct(0.99),
            );
        }
        if let Some(error) = self.first_error {
            eprintln!("{name}: first error: {error}");
        }
    }
}

async fn run_phase<'a>(
    s3: &Client,
    args: &Args,
    phase: &'a str,
    base: &Bytes,
) -> Result<Phase<'a>, String> {
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
        let (base, same) = (base.clone(), args.same_body);
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
                    Ok(out) => match out
                        .body
                        .collect()
                        .await
                        .map(aws_sdk_s3::primitives::AggregatedBytes::into_bytes)
                    {
                        Ok(got) if is_body(&base, i, same, &got) => Ok(()),
                        Ok(_) => Err(format!("GET obj-{i:08}: wrong bytes")),
                        Err(e) => Err(e.to_string()),
                    },
                    Err(e) => Err(format!("{e:?}")),
                },
            };
            drop(permit);
            result.map(|()| t.elapsed())
        }));
    }
    let mut phase = Phase {
        name: phase,
        size: args.size,
        latencies: Vec::with_capacity(args.count),
        elapsed: Duration::ZERO,
        errors: 0,
        first_error: None,
    };
    for task in tasks {
        match task.await.map_err(|e| e.to_string())? {
            Ok(latency) => phase.latencies.push(latency),
            Err(error) => {
                phase.errors += 1;
                phase.first_error.get_or_insert(error);
            }
        }
    }
    phase.elapsed = started.elapsed();
    Ok(phase)
}

/// Lists the whole bucket, a page of 1000 at a time; each page is one operation, and the
/// keys listed must be exactly the `--count` objects the put phase wrote.
async fn list_phase<'a>(s3: &Client, args: &Args) -> Result<Phase<'a>, String> {
    let started = Instant::now();
    let mut phase = Phase {
        name: "list",
        size: 0,
        latencies: Vec::new(),
        elapsed: Duration::ZERO,
        errors: 0,
        first_error: None,
    };
    let (mut token, mut listed) = (None::<String>, 0usize);
    loop {
        let t = Instant::now();
        let page = s3
            .list_objects_v2()
            .bucket(&args.bucket)
            .max_keys(1000)
            .set_continuation_token(token.take())
            .send()
            .await
            .map_err(|e| format!("list: {e:?}"))?;
        phase.latencies.push(t.elapsed());
        for object in page.contents() {
            if object.key() != Some(format!("obj-{listed:08}").as_str()) {
                phase.errors += 1;
                phase
                    .first_error
                    .get_or_insert_with(|| format!("key {listed} listed as {:?}", object.key()));
            }
            listed += 1;
        }
        match page.next_continuation_token() {
            Some(next) if page.is_truncated() == Some(true) => token = Some(next.to_owned()),
            _ => break,
        }
    }
    if listed != args.count {
        phase.errors += 1;
        phase
            .first_error
            .get_or_insert_with(|| format!("{listed} keys listed, {} expected", args.count));
    }
    phase.elapsed = started.elapsed();
    Ok(phase)
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
    let mut errors = 0;
    for phase in args.phases.split(',').map(str::trim) {
        let outcome = match phase {
            "put" | "get" => run_phase(&s3, &args, phase, &base).await?,
            "list" => list_phase(&s3, &args).await?,
            other => return Err(format!("unknown phase {other:?} (put, get, list)")),
        };
        errors += outcome.errors;
        outcome.report(args.json);
    }
    if errors > 0 {
        return Err(format!(
            "{errors} operations failed or returned wrong bytes"
        ));
    }
    Ok(())
}
