//! `opportune`: the command-line entry point.

#![forbid(unsafe_code)]

mod accounts;
mod config_file;
mod discovery;
mod import_samba;
mod sd_notify;
mod serve;
mod status;

use clap::{CommandFactory, Parser, Subcommand};

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
    /// Make a running server read its configuration again (as SIGHUP does): shares added,
    /// removed or changed and users replaced without dropping connections; prints what
    /// changed and which settings need a restart.
    Reload(status::ReloadArgs),
    /// Manage the users file: add, remove and list users, change passwords, import
    /// Samba's smbpasswd accounts (only NT hashes are stored; docs/CONFIG.md).
    User(accounts::UserArgs),
    /// Manage the users file's groups and their members (`@group` in share lists).
    Group(accounts::GroupArgs),
    /// Write the configuration equivalent to a Samba server's smb.conf (and, with
    /// --smbpasswd, its users), naming every parameter that cannot be carried over.
    ImportSamba(import_samba::ImportArgs),
    /// Write the manual pages (opportune.1 and one per command) into DIR, generated from
    /// this command-line definition (for packaging).
    #[command(hide = true)]
    Man {
        dir: std::path::PathBuf,
    },
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
        Command::Reload(args) => status::reload(args),
        Command::ImportSamba(args) => import_samba::run(args),
        Command::User(args) => accounts::user(args),
        Command::Group(args) => accounts::group(args),
        Command::Man { dir } => man_pages(&dir),
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

/// opportune.1 and opportune-COMMAND.1 for every visible command.
fn man_pages(dir: &std::path::Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let cmd = Cli::command();
    let write = |name: String, page: clap::Command| -> Result<(), String> {
        let mut out = Vec::new();
        clap_mangen::Man::new(page).title(name.to_uppercase()).render(&mut out).map_err(|e| e.to_string())?;
        let path = dir.join(format!("{name}.1"));
        std::fs::write(&path, out).map_err(|e| format!("{}: {e}", path.display()))
    };
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("opportune-{}", sub.get_name());
        let page = sub.clone().display_name(name.clone()).bin_name(format!("opportune {}", sub.get_name()));
        write(name, page)?;
    }
    write("opportune".into(), cmd)
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
