//! `opportune status`: asks a running server (over its status socket) for a snapshot of
//! sessions, open files with their caching, durable handles and waiting operations.
//! The socket and its directory are checked first (`status::check_socket`): a socket
//! another user could have put there is refused.

use std::io::Read;
use std::net::SocketAddr;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::Duration;

#[derive(clap::Args)]
pub struct StatusArgs {
    /// The address the server listens on, to find its default socket [default: 127.0.0.1:4445].
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// The server's status socket (its `--status-socket` or `status_socket`).
    #[arg(long, value_name = "PATH")]
    socket: Option<PathBuf>,
}

pub fn run(args: StatusArgs) -> Result<(), String> {
    let listen = match args.listen {
        Some(a) => a,
        None => crate::serve::DEFAULT_LISTEN.parse().map_err(|e| format!("{e}"))?,
    };
    let path = args.socket.unwrap_or_else(|| opportune_server::status::default_socket(listen));
    // Another local user must not be able to answer in the server's place.
    match opportune_server::status::check_socket(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            return Err(format!("not trusting the status socket: {e}"));
        }
        _ => {}
    }
    let mut s = UnixStream::connect(&path)
        .map_err(|e| format!("no server answers on {} ({e}); is `opportune serve` running with that --listen?", path.display()))?;
    s.set_read_timeout(Some(Duration::from_secs(10))).map_err(|e| e.to_string())?;
    let mut text = String::new();
    s.read_to_string(&mut text).map_err(|e| format!("reading {}: {e}", path.display()))?;
    // Whatever the socket sends, no control character reaches the terminal.
    print!("{}", opportune_server::status::printable_text(&text));
    Ok(())
}
