//! The generator's HTTP transport: one keep-alive HTTP/1.1 connection per sender on hyper's
//! connection-level client. No pool, no redirects, no decompression: the generator shares the
//! machine's two CPUs with the server it measures, so every microsecond it spends is taken
//! from the server (a pooled `reqwest` client cost 64–115 µs of CPU per delivery here).

use std::time::Duration;

use anyhow::{Context, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{CONTENT_TYPE, HOST, HeaderValue};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Where deliveries go: `http://host:port/path`.
#[derive(Clone, Debug)]
pub struct Target {
    authority: String,
    path: String,
    host: HeaderValue,
}

impl Target {
    pub fn parse(endpoint: &str) -> anyhow::Result<Target> {
        let Some(rest) = endpoint.strip_prefix("http://") else {
            bail!("only http:// endpoints are supported, got {endpoint}");
        };
        let (authority, path) = match rest.find('/') {
            Some(at) => (&rest[..at], &rest[at..]),
            None => (rest, "/"),
        };
        Ok(Target {
            authority: authority.to_string(),
            path: path.to_string(),
            host: HeaderValue::from_str(authority).context("the endpoint's host")?,
        })
    }
}

/// One sender's connection, opened on first use and again after an error.
pub struct Connection {
    target: Target,
    timeout: Duration,
    open: Option<SendRequest<Full<Bytes>>>,
}

impl Connection {
    pub fn new(target: Target, timeout: Duration) -> Self {
        Connection {
            target,
            timeout,
            open: None,
        }
    }

    /// POSTs a JSON body with extra headers; the status and the whole answer.
    pub async fn post_json(
        &mut self,
        headers: [(&'static str, HeaderValue); 3],
        body: Vec<u8>,
    ) -> anyhow::Result<(u16, Bytes)> {
        match tokio::time::timeout(self.timeout, self.exchange(headers, body)).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(err)) => {
                self.open = None;
                Err(err)
            }
            Err(_) => {
                self.open = None;
                bail!("no answer within {:?}", self.timeout)
            }
        }
    }

    async fn exchange(
        &mut self,
        headers: [(&'static str, HeaderValue); 3],
        body: Vec<u8>,
    ) -> anyhow::Result<(u16, Bytes)> {
        let mut request = hyper::Request::post(self.target.path.as_str())
            .header(HOST, self.target.host.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .body(Full::new(Bytes::from(body)))?;
        for (name, value) in headers {
            request.headers_mut().insert(name, value);
        }
        let connection = self.connection().await?;
        let response = connection.send_request(request).await?;
        let status = response.status().as_u16();
        let answer = response.into_body().collect().await?.to_bytes();
        Ok((status, answer))
    }

    async fn connection(&mut self) -> anyhow::Result<&mut SendRequest<Full<Bytes>>> {
        if self.open.as_ref().is_none_or(|open| open.is_closed()) {
            let stream = TcpStream::connect(&self.target.authority)
                .await
                .with_context(|| format!("connecting to {}", self.target.authority))?;
            stream.set_nodelay(true)?;
            let (sender, driver) =
                hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
            tokio::spawn(driver);
            self.open = Some(sender);
        }
        let open = self.open.as_mut().expect("opened above");
        open.ready().await?;
        Ok(open)
    }
}
