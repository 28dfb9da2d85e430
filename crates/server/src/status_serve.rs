//! The status socket's protocol (docs/STATUS.md): a client sends one request line and
//! reads the answer until the server closes the connection.
//!
//! * `status [json] [breaks]`: the report, as text or JSON, with the last finished break
//!   records when `breaks` is given. An empty request (or none within
//!   [`REQUEST_TIMEOUT`], as older clients send) is `status`.
//! * `reload`: read the configuration again and apply it; the answer is one line,
//!   `reloaded: …` with what changed, or `error: …` (nothing applied).
//! * `trace [json]`: finished break records as they happen, one per line, until the
//!   client goes away, after a first line that says the subscription is in place. A
//!   reader that falls behind by more than the trace backlog is told how many it lost.

use crate::Server;
use opportune_engine::locking::{ConnEvent, FiguresReply};
use opportune_engine::status::report;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

use tokio::sync::broadcast::error::RecvError;

/// The schema of `trace json` lines: a first line `{"schema": …}`, then one break
/// record (the `breaks` items of the status schema) per line, or `{"lost": n}`.
pub const TRACE_SCHEMA: &str = "opportune-trace/1";

/// How long the server waits for the request line.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);
/// The longest request line read.
const MAX_REQUEST: u64 = 256;
/// How long the report waits for connections to send their transport figures.
const FIGURES_TIMEOUT: Duration = Duration::from_millis(500);

/// What a client asked for.
#[derive(Debug, PartialEq, Eq)]
pub enum Request {
    Status { json: bool, breaks: bool },
    Trace { json: bool },
    /// Read the configuration again and apply it.
    Reload,
}

impl Request {
    /// Parses a request line; unknown words are an error naming them.
    pub fn parse(line: &str) -> Result<Request, String> {
        let mut words = line.split_whitespace();
        let verb = words.next().unwrap_or("status");
        let mut json = false;
        let mut breaks = false;
        for w in words {
            match w {
                "json" => json = true,
                "breaks" if verb == "status" => breaks = true,
                other => return Err(format!("unknown word {other:?} in request {verb:?}")),
            }
        }
        match verb {
            "status" => Ok(Request::Status { json, breaks }),
            "trace" => Ok(Request::Trace { json }),
            "reload" if !json => Ok(Request::Reload),
            other => Err(format!("unknown request {other:?}")),
        }
    }
}

/// Answers each connection on its own task.
pub async fn serve(state: Arc<Server>, listener: UnixListener) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        tokio::spawn(answer(state.clone(), stream));
    }
}

async fn answer(state: Arc<Server>, stream: UnixStream) {
    let (rd, mut wr) = stream.into_split();
    let mut line = String::new();
    let mut rd = BufReader::new(rd.take(MAX_REQUEST));
    // No line in time, or the client closed its side at once: an older client.
    let _ = tokio::time::timeout(REQUEST_TIMEOUT, rd.read_line(&mut line)).await;
    match Request::parse(&line) {
        Ok(Request::Status { json, breaks }) => {
            let figures = collect_figures(&state).await;
            let r = report::gather(&state, figures, breaks.then_some(state.config.break_history));
            let text = if json { r.to_json() } else { r.to_text() };
            let _ = wr.write_all(text.as_bytes()).await;
        }
        Ok(Request::Trace { json }) => stream_trace(&state, rd.into_inner().into_inner(), &mut wr, json).await,
        Ok(Request::Reload) => {
            let st = state.state.clone();
            // Opening shares touches the disk: off the async workers.
            let answer = match tokio::task::spawn_blocking(move || st.reload()).await {
                Ok(Ok(report)) => format!("reloaded: {report}\n"),
                Ok(Err(e)) => format!("error: {e}\n"),
                Err(e) => format!("error: {e}\n"),
            };
            let _ = wr.write_all(answer.as_bytes()).await;
        }
        Err(e) => {
            let _ = wr.write_all(format!("error: {e}\n").as_bytes()).await;
        }
    }
    let _ = wr.shutdown().await;
}

/// Asks every connection for its figures; the ones that answer in time are reported.
async fn collect_figures(state: &Server) -> Vec<opportune_engine::figures::ConnFigures> {
    let mut waiting = Vec::new();
    for (_, tx) in state.locks.routes() {
        let (reply, rx) = tokio::sync::oneshot::channel();
        let reply = FiguresReply(Box::new(move |f| {
            let _ = reply.send(f);
        }));
        if tx.send(ConnEvent::Figures(reply)) {
            waiting.push(rx);
        }
    }
    let deadline = tokio::time::Instant::now() + FIGURES_TIMEOUT;
    let mut out = Vec::with_capacity(waiting.len());
    for rx in waiting {
        if let Ok(Ok(f)) = tokio::time::timeout_at(deadline, rx).await {
            out.push(f);
        }
    }
    out
}

/// Writes finished break records until the client closes its side or a write fails.
async fn stream_trace(
    state: &Server,
    mut rd: tokio::net::unix::OwnedReadHalf,
    wr: &mut tokio::net::unix::OwnedWriteHalf,
    json: bool,
) {
    let mut rx = state.trace.subscribe();
    // The first line says the subscription is in place: every break that ends from now
    // on is streamed.
    let hello = if json { format!("{{\"schema\":\"{TRACE_SCHEMA}\"}}\n") } else { "tracing breaks\n".to_string() };
    if wr.write_all(hello.as_bytes()).await.is_err() {
        return;
    }
    let mut scratch = [0u8; 64];
    loop {
        let line = tokio::select! {
            r = rx.recv() => match r {
                Ok(rec) => if json { rec.to_json_line() } else { rec.to_text() },
                Err(RecvError::Lagged(n)) => {
                    if json { format!("{{\"lost\":{n}}}") } else { format!("({n} records lost: the reader fell behind)") }
                }
                Err(RecvError::Closed) => return,
            },
            n = rd.read(&mut scratch) => match n {
                Ok(0) | Err(_) => return,
                Ok(_) => continue,
            },
        };
        if wr.write_all(format!("{line}\n").as_bytes()).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_parse() {
        assert_eq!(Request::parse(""), Ok(Request::Status { json: false, breaks: false }));
        assert_eq!(Request::parse("status json breaks\n"), Ok(Request::Status { json: true, breaks: true }));
        assert_eq!(Request::parse("trace json"), Ok(Request::Trace { json: true }));
        assert_eq!(Request::parse("trace"), Ok(Request::Trace { json: false }));
        assert!(Request::parse("trace breaks").is_err());
        assert_eq!(Request::parse("reload"), Ok(Request::Reload));
        assert!(Request::parse("shutdown").unwrap_err().contains("shutdown"));
    }
}
