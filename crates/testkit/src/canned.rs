//! A loopback HTTP server that answers each path with whatever the test set
//! last: the update feeds and platform backends that misbehave in every way
//! a real one can (error pages, wrong bodies, silence).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One canned answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
    /// Extra headers (`Retry-After`, `Date`…).
    pub headers: Vec<(&'static str, String)>,
    /// How long to wait before answering (a slow or silent server).
    pub delay: Duration,
}

impl Reply {
    pub fn new(status: u16, content_type: &'static str, body: impl Into<Vec<u8>>) -> Reply {
        Reply {
            status,
            content_type,
            body: body.into(),
            headers: Vec::new(),
            delay: Duration::ZERO,
        }
    }

    pub fn json(status: u16, value: &serde_json::Value) -> Reply {
        Reply::new(status, "application/json", value.to_string())
    }

    /// An HTML error page, what proxies and misconfigured servers send.
    pub fn html(status: u16) -> Reply {
        Reply::new(
            status,
            "text/html",
            "<!doctype html><html><body><h1>Something went wrong</h1></body></html>",
        )
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Reply {
        self.headers.push((name, value.into()));
        self
    }

    pub fn after(mut self, delay: Duration) -> Reply {
        self.delay = delay;
        self
    }
}

/// A request the server saw.
#[derive(Debug, Clone)]
pub struct Hit {
    pub method: String,
    /// Path and query, as sent.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

type Replies = Arc<Mutex<HashMap<String, Reply>>>;

/// The server; stops accepting when dropped.
#[derive(Debug)]
pub struct Canned {
    addr: SocketAddr,
    replies: Replies,
    hits: Arc<Mutex<Vec<Hit>>>,
    stop: Arc<AtomicBool>,
}

impl Canned {
    /// Listens on a free loopback port. Paths with no reply get a 404.
    pub fn start() -> Canned {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        listener.set_nonblocking(true).unwrap();
        let server = Canned {
            addr: listener.local_addr().unwrap(),
            replies: Arc::default(),
            hits: Arc::default(),
            stop: Arc::default(),
        };
        let (replies, hits, stop) = (
            server.replies.clone(),
            server.hits.clone(),
            server.stop.clone(),
        );
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let (replies, hits) = (replies.clone(), hits.clone());
                        std::thread::spawn(move || {
                            let _ = serve(stream, &replies, &hits);
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        server
    }

    /// `http://127.0.0.1:PORT` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Answers `path` (without its query) with `reply` from now on.
    pub fn set(&self, path: &str, reply: Reply) {
        self.replies.lock().unwrap().insert(path.to_owned(), reply);
    }

    /// Every request so far, oldest first.
    pub fn hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap().clone()
    }

    /// How many requests asked for `path` (query ignored).
    pub fn count(&self, path: &str) -> usize {
        self.hits()
            .iter()
            .filter(|h| h.target.split('?').next() == Some(path))
            .count()
    }
}

impl Drop for Canned {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn serve(stream: TcpStream, replies: &Replies, hits: &Mutex<Vec<Hit>>) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let target = parts.next().unwrap_or_default().to_owned();
    let mut headers = Vec::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
    }
    let length = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(0)
        .min(1 << 20);
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    let path = target.split('?').next().unwrap_or_default().to_owned();
    hits.lock().unwrap().push(Hit {
        method,
        target,
        headers,
        body,
    });
    let reply = replies
        .lock()
        .unwrap()
        .get(&path)
        .cloned()
        .unwrap_or_else(|| Reply::new(404, "text/plain", "not found"));
    std::thread::sleep(reply.delay);
    let mut out = stream;
    let mut head = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: {}\r\ncontent-length: {}\r\nconnection: close\r\n",
        reply.status,
        reason(reply.status),
        reply.content_type,
        reply.body.len()
    );
    for (k, v) in &reply.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    out.write_all(head.as_bytes())?;
    out.write_all(&reply.body)?;
    out.flush()
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_each_path_with_its_reply_and_records_the_request() {
        let server = Canned::start();
        server.set("/feed", Reply::json(200, &serde_json::json!({"a": 1})));
        server.set("/down", Reply::html(503).header("retry-after", "7"));
        let get = |path: &str| {
            let mut s = TcpStream::connect(server.addr()).unwrap();
            write!(s, "GET {path} HTTP/1.1\r\nhost: x\r\n\r\n").unwrap();
            let mut out = String::new();
            s.read_to_string(&mut out).unwrap();
            out
        };
        let feed = get("/feed?v=1");
        assert!(feed.starts_with("HTTP/1.1 200 OK\r\n"), "{feed}");
        assert!(feed.ends_with(r#"{"a":1}"#), "{feed}");
        let down = get("/down");
        assert!(
            down.starts_with("HTTP/1.1 503 ") && down.contains("\r\nretry-after: 7\r\n"),
            "{down}"
        );
        assert!(get("/nothing").starts_with("HTTP/1.1 404 "));
        assert_eq!(server.count("/feed"), 1);
        assert_eq!(server.hits()[0].target, "/feed?v=1");
    }
}
