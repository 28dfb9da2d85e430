//! `opportune status` and `opportune trace`: ask a running server, over its status socket,
//! for a report (sessions, connections with transport figures, open files with caching
//! and share modes, byte-range locks, breaks; as text or JSON) or for the live stream of
//! break records. The socket and its directory are checked first
//! (`status::check_socket`): a socket another user could have put there is refused.
//! Whatever the server sends is escaped before it reaches the terminal.

use std::io::{BufRead, Read, Write};
use std::net::SocketAddr;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::Duration;

/// Where the server's status socket is.
#[derive(clap::Args)]
pub struct SocketArgs {
    /// The address the server listens on, to find its default socket [default: 127.0.0.1:4445].
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// The server's status socket (its `--status-socket` or `status_socket`).
    #[arg(long, value_name = "PATH")]
    socket: Option<PathBuf>,
}

#[derive(clap::Args)]
pub struct StatusArgs {
    #[command(flatten)]
    socket: SocketArgs,
    /// The report as JSON (schema `opportune-status/1`, docs/STATUS.md).
    #[arg(long)]
    json: bool,
    /// Also the last finished break records (the server keeps `break_history` of them).
    #[arg(long)]
    breaks: bool,
}

#[derive(clap::Args)]
pub struct TraceArgs {
    #[command(flatten)]
    socket: SocketArgs,
    /// One JSON object per break record and line.
    #[arg(long)]
    json: bool,
}

/// Connects to the server's status socket and sends `request`.
fn connect(args: &SocketArgs, request: &str) -> Result<UnixStream, String> {
    let listen = match args.listen {
        Some(a) => a,
        None => crate::serve::DEFAULT_LISTEN.parse().map_err(|e| format!("{e}"))?,
    };
    let path = args.socket.clone().unwrap_or_else(|| opportune_server::status::default_socket(listen));
    // Another local user must not be able to answer in the server's place.
    match opportune_server::status::check_socket(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            return Err(format!("not trusting the status socket: {e}"));
        }
        _ => {}
    }
    let mut s = UnixStream::connect(&path)
        .map_err(|e| format!("no server answers on {} ({e}); is `opportune serve` running with that --listen?", path.display()))?;
    s.write_all(format!("{request}\n").as_bytes()).map_err(|e| format!("writing to {}: {e}", path.display()))?;
    Ok(s)
}

pub fn status(args: StatusArgs) -> Result<(), String> {
    let mut request = String::from("status");
    if args.json {
        request.push_str(" json");
    }
    if args.breaks {
        request.push_str(" breaks");
    }
    let mut s = connect(&args.socket, &request)?;
    s.set_read_timeout(Some(Duration::from_secs(10))).map_err(|e| e.to_string())?;
    let mut text = String::new();
    s.read_to_string(&mut text).map_err(|e| format!("reading the report: {e}"))?;
    if let Some(e) = text.strip_prefix("error: ") {
        return Err(format!("the server refused the request: {}", e.trim_end()));
    }
    // Whatever the socket sends, no control character reaches the terminal.
    if args.json {
        print!("{}", opportune_server::status::printable_json(&text));
    } else {
        print!("{}", opportune_server::status::printable_text(&text));
    }
    Ok(())
}

#[derive(clap::Args)]
pub struct ReloadArgs {
    #[command(flatten)]
    socket: SocketArgs,
}

/// `opportune reload`: the server reads its configuration again (as on SIGHUP) and says
/// what changed.
pub fn reload(args: ReloadArgs) -> Result<(), String> {
    let mut s = connect(&args.socket, "reload")?;
    s.set_read_timeout(Some(Duration::from_secs(60))).map_err(|e| e.to_string())?;
    let mut text = String::new();
    s.read_to_string(&mut text).map_err(|e| format!("reading the answer: {e}"))?;
    let text = opportune_server::status::printable_text(text.trim_end());
    match text.strip_prefix("error: ") {
        Some(e) => Err(format!("reload refused: {e}")),
        None => {
            println!("{text}");
            Ok(())
        }
    }
}

pub fn trace(args: TraceArgs) -> Result<(), String> {
    let s = connect(&args.socket, if args.json { "trace json" } else { "trace" })?;
    let mut out = std::io::stdout().lock();
    for line in std::io::BufReader::new(s).lines() {
        let line = line.map_err(|e| format!("reading the trace: {e}"))?;
        let shown = if args.json {
            opportune_server::status::printable_json(&line)
        } else {
            opportune_server::status::printable(&line)
        };
        // A closed standard output (`| head`) ends the trace quietly.
        if writeln!(out, "{shown}").and_then(|()| out.flush()).is_err() {
            return Ok(());
        }
    }
    Ok(())
}
