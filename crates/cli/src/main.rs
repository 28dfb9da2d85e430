//! `opportune`: the command-line entry point.

#![forbid(unsafe_code)]

mod config_file;
mod import_samba;
mod sd_notify;
mod serve;
mod status;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "opportune", version, about = "An SMB2/SMB3 file server built around correct oplocks, leases and locks")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve a folder (or the shares given with --share / --config) over SMB.
    Serve(serve::ServeArgs),
    /// Show a running server's sessions, connections with their transport figures, open
    /// files with their oplocks, leases and share modes, byte-range locks, disconnected
    /// durable handles and breaks in flight (--breaks: also the last finished ones).
    Status(status::StatusArgs),
    /// Stream a running server's break records as breaks end: file, holder, from -> to,
    /// trigger, outcome and every request that waited.
    Trace(status::TraceArgs),
    /// Write the configuration equivalent to a Samba server's smb.conf (and, with
    /// --smbpasswd, its users), naming every parameter that cannot be carried over.
    ImportSamba(import_samba::ImportArgs),
    /// Print the NT hash of a password, for the `nt_hash` key of the config file.
    HashPassword {
        /// The password; read from standard input when absent.
        password: Option<String>,
    },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Status(args) => status::status(args),
        Command::Trace(args) => status::trace(args),
        Command::ImportSamba(args) => import_samba::run(args),
        Command::HashPassword { password } => hash_password(password),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("opportune: {e}");
            std::process::ExitCode::from(2)
        }
    }
}

fn hash_password(password: Option<String>) -> Result<(), String> {
    let pw = match password {
        Some(p) => p,
        None => {
            let mut s = String::new();
            std::io::stdin().read_line(&mut s).map_err(|e| e.to_string())?;
            s.trim_end_matches(['\r', '\n']).to_string()
        }
    };
    let h = opportune_auth::NtHash::from_password(&pw);
    println!("{}", h.0.iter().map(|b| format!("{b:02x}")).collect::<String>());
    Ok(())
}
