//! The load generator every HTTP benchmark shares.

use anyhow::Result;

/// A lean HTTP/1.1 load generator: one keep-alive connection per client,
/// no pool, no URL parsing, so that the generator takes as little of the
/// machine's two cores as possible from the server it measures.
pub(crate) struct LeanClient {
    sender: hyper::client::conn::http1::SendRequest<http_body_util::Full<bytes::Bytes>>,
}

impl LeanClient {
    pub(crate) async fn connect(addr: std::net::SocketAddr) -> Result<LeanClient> {
        let stream = tokio::net::TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let (sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "load generator connection closed");
            }
        });
        Ok(LeanClient { sender })
    }

    /// POSTs `body` to `path`; answers the status and the body.
    pub(crate) async fn post(
        &mut self,
        path: &str,
        content_type: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<(u16, bytes::Bytes)> {
        use http_body_util::BodyExt;
        self.sender.ready().await?;
        let mut request = hyper::Request::post(path)
            .header(hyper::header::HOST, "localhost")
            .header(hyper::header::CONTENT_TYPE, content_type);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = self
            .sender
            .send_request(request.body(http_body_util::Full::new(bytes::Bytes::from(body)))?)
            .await?;
        let status = response.status().as_u16();
        let body = response.into_body().collect().await?.to_bytes();
        Ok((status, body))
    }

    /// GETs `path`, fails unless the answer is 200, and reads the body.
    pub(crate) async fn get(&mut self, path: &str) -> Result<bytes::Bytes> {
        use http_body_util::BodyExt;
        self.sender.ready().await?;
        let request = hyper::Request::get(path)
            .header(hyper::header::HOST, "localhost")
            .body(http_body_util::Full::new(bytes::Bytes::new()))?;
        let response = self.sender.send_request(request).await?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        anyhow::ensure!(status == hyper::StatusCode::OK, "GET {path}: {status}");
        Ok(body)
    }
}
