//! A minimal HTTP/1.1 keep-alive client for the single-event load of (4b): one connection per
//! worker, the request written in one `write`, the answer read by its `Content-Length`. The
//! bench shares two cores with the API and the broker, and reqwest spent ~50 µs of CPU per
//! request here (a quarter of the machine at the rates measured); this spends a few, so the
//! figure is the API's and the broker's, not the client's. Only what the API answers is
//! supported: a `Content-Length` body, no chunking, no pipelining.

use anyhow::{bail, ensure, Context};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One keep-alive connection to `addr` that POSTs JSON bodies to one path.
pub struct WireClient {
    addr: String,
    /// `POST <path> HTTP/1.1` and the fixed headers, up to the Content-Length value.
    head: Vec<u8>,
    stream: Option<TcpStream>,
    request: Vec<u8>,
    response: Vec<u8>,
}

impl WireClient {
    /// For `url` = `http://host:port/path`.
    pub fn new(url: &str) -> anyhow::Result<Self> {
        let rest = url
            .strip_prefix("http://")
            .with_context(|| format!("{url}: only http:// is supported"))?;
        let (addr, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let path = if path.is_empty() { "/" } else { path };
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: "
        )
        .into_bytes();
        Ok(Self {
            addr: addr.to_owned(),
            head,
            stream: None,
            request: Vec::with_capacity(4096),
            response: Vec::with_capacity(4096),
        })
    }

    /// POSTs `body`; the status code. On any error the connection is dropped (the next call
    /// opens a new one).
    pub async fn post(&mut self, body: &[u8]) -> anyhow::Result<u16> {
        let result = self.exchange(body).await;
        if !matches!(result, Ok((_, true))) {
            self.stream = None;
        }
        result.map(|(status, _)| status)
    }

    /// Opens the connection unless it is open.
    pub async fn connect(&mut self) -> anyhow::Result<()> {
        if self.stream.is_none() {
            let stream = TcpStream::connect(&self.addr).await?;
            stream.set_nodelay(true)?;
            self.stream = Some(stream);
        }
        Ok(())
    }

    /// The status and whether the connection may be reused.
    async fn exchange(&mut self, body: &[u8]) -> anyhow::Result<(u16, bool)> {
        self.connect().await?;
        let stream = self.stream.as_mut().expect("connected above");
        self.request.clear();
        self.request.extend_from_slice(&self.head);
        self.request
            .extend_from_slice(format!("{}\r\n\r\n", body.len()).as_bytes());
        self.request.extend_from_slice(body);
        stream.write_all(&self.request).await?;

        self.response.clear();
        let head_end = loop {
            if let Some(end) = find(&self.response, b"\r\n\r\n") {
                break end + 4;
            }
            read_more(stream, &mut self.response).await?;
        };
        let head = std::str::from_utf8(&self.response[..head_end]).context("response head")?;
        let status: u16 = head
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .with_context(|| format!("no status in {head:?}"))?;
        let mut length = None;
        let mut reusable = true;
        for line in head.split("\r\n").skip(1) {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                length = Some(value.parse::<usize>().context("Content-Length")?);
            } else if name.eq_ignore_ascii_case("connection") && value.eq_ignore_ascii_case("close")
            {
                reusable = false;
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                bail!("chunked responses are not supported");
            }
        }
        let total = head_end + length.context("no Content-Length")?;
        while self.response.len() < total {
            read_more(stream, &mut self.response).await?;
        }
        ensure!(self.response.len() == total, "more bytes than the response");
        Ok((status, reusable))
    }
}

async fn read_more(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> anyhow::Result<()> {
    buffer.reserve(4096);
    let n = stream.read_buf(buffer).await?;
    ensure!(n > 0, "connection closed by the server");
    Ok(())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_splits_into_address_and_path() {
        let client = WireClient::new("http://127.0.0.1:8080/publish").unwrap();
        assert_eq!(client.addr, "127.0.0.1:8080");
        assert!(client
            .head
            .starts_with(b"POST /publish HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"));
        assert!(WireClient::new("https://x/publish").is_err());
    }

    #[test]
    fn finds_the_end_of_the_head() {
        assert_eq!(find(b"HTTP/1.1 200 OK\r\n\r\n{}", b"\r\n\r\n"), Some(15));
        assert_eq!(find(b"HTTP/1.1 200 OK\r\n", b"\r\n\r\n"), None);
    }
}
