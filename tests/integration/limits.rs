//! Resource bounds a client cannot talk its way past: `--max-uploads` caps the
//! bodies received at once (each holds a few chunks of memory); an upload
//! beyond the cap waits for a slot instead of adding to memory.

use std::time::{Duration, SystemTime};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::common::sign;
use crate::common::{TestEnv, create_bucket, get, put};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_beyond_max_uploads_wait_for_a_slot() {
    let env = TestEnv::new();
    let server = env.start_ephemeral_with(&["--max-uploads", "1"]);
    let s3 = server.client();
    create_bucket(&s3, "slots").await;

    // Take the only slot: a presigned PUT that sends half of its body.
    let url = format!("{}/slots/held", server.endpoint);
    let signed = sign::presign_v4(
        &server.access_key,
        &server.secret_key,
        "PUT",
        &url,
        Duration::from_secs(300),
        SystemTime::now(),
    );
    let mut held = TcpStream::connect(server.addr).await.unwrap();
    let request = format!(
        "PUT {} HTTP/1.1\r\nHost: {}\r\nContent-Length: 10\r\nConnection: close\r\n\r\nhello",
        signed.path_and_query, server.addr
    );
    held.write_all(request.as_bytes()).await.unwrap();
    // Let the server reach the body before the second upload starts.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let second = {
        let s3 = s3.clone();
        tokio::spawn(async move { put(&s3, "slots", "queued", b"second").await })
    };
    let mut second = std::pin::pin!(second);
    assert!(
        tokio::time::timeout(Duration::from_secs(1), &mut second)
            .await
            .is_err(),
        "a second upload went through while the only slot was taken"
    );

    // Finishing the first body frees the slot; both uploads land.
    held.write_all(b"world").await.unwrap();
    let mut answer = Vec::new();
    held.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    tokio::time::timeout(Duration::from_secs(10), second)
        .await
        .expect("queued upload finished")
        .unwrap();
    assert_eq!(get(&s3, "slots", "held").await, b"helloworld");
    assert_eq!(get(&s3, "slots", "queued").await, b"second");
}
