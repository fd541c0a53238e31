//! The node's server loop with the error middleware, over real TCP: a
//! request with too many header fields gets the API's 431 with a problem
//! body saying the limit (issue 13, item 12), not hyper's empty answer.

use std::time::Duration;

use axum::routing::get;
use axum::Router;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn start() -> std::net::SocketAddr {
    let app = Router::new()
        .route("/api/v1/status", get(|| async { "ok" }))
        .layer(axum::middleware::from_fn(http_api::problem::fill_errors));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(http_api::serve::serve(
        listener,
        app,
        http_api::serve::ServeLimits::default(),
        std::future::pending(),
    ));
    addr
}

/// Sends `headers` extra header fields; answers the raw response.
async fn get_with_headers(addr: std::net::SocketAddr, headers: usize) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let mut request =
        String::from("GET /api/v1/status HTTP/1.1\r\nhost: test\r\nconnection: close\r\n");
    for i in 0..headers {
        request.push_str(&format!("x-h{i}: v\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer))
        .await
        .expect("answer in time")
        .expect("read");
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn too_many_header_fields_get_a_431_that_says_the_limit() {
    let addr = start().await;
    let fine = get_with_headers(addr, 50).await;
    assert!(fine.starts_with("HTTP/1.1 200"), "{fine}");
    // hyper's own limit used to be 100 fields, answered with an empty body.
    let answer = get_with_headers(addr, 150).await;
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
    assert!(
        answer.contains("application/problem+json"),
        "not a problem document: {answer}"
    );
    assert!(
        answer.contains(&format!("at most {}", http_api::problem::HEADER_COUNT_MAX)),
        "{answer}"
    );
}
