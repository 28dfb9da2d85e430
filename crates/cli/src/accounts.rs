//! `opportune user …` and `opportune group …`: manage the users file (its format and
//! rules live in `opportune_server::accounts::users_file`; this is the command line
//! over them). Each change rewrites the file atomically with mode 0600; a running
//! server reads it at its next reload (`opportune reload`, SIGHUP).

use crate::config_file;
use clap::{Args, Subcommand};
use opportune_auth::NtHash;
use opportune_server::accounts::{sids, users_file, users_file::UsersFile};
use std::path::PathBuf;

/// Which users file to change.
#[derive(Args, Debug)]
pub struct FileArgs {
    /// The users file [default: the `users_file` of --config].
    #[arg(long, value_name = "PATH", global = true)]
    users_file: Option<PathBuf>,
    /// A configuration file whose `users_file` (and `state_dir`) to use.
    #[arg(long, value_name = "FILE", global = true)]
    config: Option<PathBuf>,
    /// The server's state directory, for showing SIDs in `user list` [default: as
    /// `opportune serve`].
    #[arg(long, value_name = "DIR", global = true)]
    state_dir: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct UserArgs {
    #[command(flatten)]
    file: FileArgs,
    #[command(subcommand)]
    command: UserCommand,
}

#[derive(Subcommand, Debug)]
enum UserCommand {
    /// Add a user; the password (only its NT hash is stored) is read from standard input
    /// when not given.
    Add {
        name: String,
        password: Option<String>,
        /// The NT hash as 32 hex digits, instead of a password.
        #[arg(long, conflicts_with = "password")]
        nt_hash: Option<String>,
        /// The UNIX uid its file-system calls run as under `unix_identity` (with --gid);
        /// without: the system account of the same name.
        #[arg(long, requires = "gid")]
        uid: Option<u32>,
        /// The UNIX gid, with --uid.
        #[arg(long, requires = "uid")]
        gid: Option<u32>,
    },
    /// Set a user's UNIX uid and gid (`unix_identity`), or clear them with --clear (the
    /// system account of the same name is then used).
    Unix {
        name: String,
        #[arg(long, requires = "gid", conflicts_with = "clear")]
        uid: Option<u32>,
        #[arg(long, requires = "uid", conflicts_with = "clear")]
        gid: Option<u32>,
        #[arg(long, required_unless_present = "uid")]
        clear: bool,
    },
    /// Remove a user (and its group memberships); its sessions end at the next reload.
    Del { name: String },
    /// Change a user's password, read from standard input when not given.
    Passwd { name: String, password: Option<String> },
    /// List the users with their RIDs, SIDs and groups.
    List,
    /// Set a user's quota on each share (bytes and files its own files may hold; beyond,
    /// STATUS_QUOTA_EXCEEDED), or with neither flag remove its limits (the share's
    /// `user_quota_bytes` / `user_quota_files` then apply).
    Quota {
        name: String,
        #[arg(long, value_name = "N")]
        bytes: Option<u64>,
        #[arg(long, value_name = "N")]
        files: Option<u64>,
    },
    /// Add the accounts of a Samba smbpasswd file (`pdbedit -L -w > FILE`) with their NT
    /// hashes, so they log on with the passwords they have; existing names are skipped.
    ImportSmbpasswd { file: PathBuf },
}

#[derive(Args, Debug)]
pub struct GroupArgs {
    #[command(flatten)]
    file: FileArgs,
    #[command(subcommand)]
    command: GroupCommand,
}

#[derive(Subcommand, Debug)]
enum GroupCommand {
    /// Add a group (for `@group` in share lists; its SID goes into its members' tokens).
    Add {
        name: String,
        /// A UNIX gid its members get as a supplementary group under `unix_identity`.
        #[arg(long)]
        gid: Option<u32>,
    },
    /// Remove a group.
    Del { name: String },
    /// Show a group's members, or change them with --add and --remove.
    Members {
        group: String,
        #[arg(long, value_name = "USER")]
        add: Vec<String>,
        #[arg(long, value_name = "USER")]
        remove: Vec<String>,
    },
    /// List the groups with their RIDs and members.
    List,
}

impl FileArgs {
    fn config(&self) -> Result<config_file::FileConfig, String> {
        self.config.as_deref().map_or_else(|| Ok(Default::default()), config_file::load)
    }

    fn path(&self) -> Result<PathBuf, String> {
        if let Some(p) = &self.users_file {
            return Ok(p.clone());
        }
        self.config()?.users_file.ok_or_else(|| "no users file: give --users-file PATH, or --config FILE with `users_file`".to_string())
    }

    fn state_dir(&self) -> Result<Option<PathBuf>, String> {
        Ok(match (&self.state_dir, self.config()?.state_dir) {
            (Some(p), _) => Some(p.clone()),
            (None, Some(p)) if p.as_os_str().is_empty() => None,
            (None, Some(p)) => Some(p),
            (None, None) => sids::default_state_dir(),
        })
    }
}

/// A password from the command line, else one line of standard input.
fn password(given: Option<String>) -> Result<String, String> {
    if let Some(p) = given {
        return Ok(p);
    }
    use std::io::IsTerminal;
    if std::io::stdin().is_terminal() {
        eprint!("Password (shown as typed): ");
    }
    let mut s = String::new();
    std::io::stdin().read_line(&mut s).map_err(|e| e.to_string())?;
    let pw = s.trim_end_matches(['\r', '\n']).to_string();
    if pw.is_empty() {
        return Err("empty password".into());
    }
    Ok(pw)
}

fn changed(path: &std::path::Path, what: &str) {
    println!("{what}; {} written (a running server reads it at `opportune reload`)", path.display());
}

pub fn user(args: UserArgs) -> Result<(), String> {
    let path = args.file.path()?;
    let done = match args.command {
        UserCommand::Add { name, password: pw, nt_hash, uid, gid } => {
            let hash = match nt_hash {
                Some(hex) => users_file::hash_from_hex(&hex).ok_or("--nt-hash: expected 32 hex digits")?,
                None => NtHash::from_password(&password(pw)?),
            };
            let rid = UsersFile::update(&path, |f| {
                let rid = f.add_user(&name, &hash)?;
                f.set_unix(&name, uid.zip(gid))?;
                Ok(rid)
            })?;
            format!("user {name} added (RID {rid})")
        }
        UserCommand::Unix { name, uid, gid, clear } => {
            let ids = if clear { None } else { uid.zip(gid) };
            UsersFile::update(&path, |f| f.set_unix(&name, ids))?;
            match ids {
                Some((u, g)) => format!("{name} runs as uid {u}, gid {g} under unix_identity"),
                None => format!("{name} runs as the system account of that name under unix_identity"),
            }
        }
        UserCommand::Del { name } => {
            UsersFile::update(&path, |f| f.remove_user(&name))?;
            format!("user {name} removed")
        }
        UserCommand::Passwd { name, password: pw } => {
            let hash = NtHash::from_password(&password(pw)?);
            UsersFile::update(&path, |f| f.set_hash(&name, &hash))?;
            format!("password of {name} changed")
        }
        UserCommand::Quota { name, bytes, files } => {
            UsersFile::update(&path, |f| f.set_quota(&name, bytes, files))?;
            let show = |v: Option<u64>| v.map_or_else(|| "none".to_string(), |n| n.to_string());
            format!("quota of {name}: bytes {}, files {}", show(bytes), show(files))
        }
        UserCommand::List => {
            let f = UsersFile::load_or_new(&path)?;
            let domain = args.file.state_dir()?.and_then(|d| sids::read(&d).ok().flatten());
            for u in &f.users {
                let sid = domain.as_ref().and_then(|d| d.with_rid(u.rid)).map_or_else(|| "-".to_string(), |s| s.to_string());
                let groups: Vec<&str> = f.groups_of(&u.name).map(|g| g.name.as_str()).collect();
                let unix = u.uid.zip(u.gid).map(|(uid, gid)| format!(" uid={uid} gid={gid}")).unwrap_or_default();
                let quota = match (u.quota_bytes, u.quota_files) {
                    (None, None) => String::new(),
                    (b, f) => format!(" quota={}/{}", b.map_or("-".into(), |n| n.to_string()), f.map_or("-".into(), |n| n.to_string())),
                };
                println!("{:<20} {:>6} {:<44} {}{unix}{quota}", u.name, u.rid, sid, groups.join(","));
            }
            return Ok(());
        }
        UserCommand::ImportSmbpasswd { file } => {
            let text = std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
            let (accounts, warnings) = crate::import_samba::smbpasswd::parse(&text);
            for w in warnings {
                eprintln!("opportune user import-smbpasswd: warning: {w}");
            }
            let added = UsersFile::update(&path, |f| {
                let mut added = 0;
                for a in accounts {
                    let Some(hash) = users_file::hash_from_hex(&a.nt_hash) else { continue };
                    match f.add_user(&a.name, &hash) {
                        Ok(_) => added += 1,
                        Err(e) => eprintln!("opportune user import-smbpasswd: warning: {} skipped: {e}", a.name),
                    }
                }
                Ok(added)
            })?;
            format!("{added} users imported")
        }
    };
    changed(&path, &done);
    Ok(())
}

pub fn group(args: GroupArgs) -> Result<(), String> {
    let path = args.file.path()?;
    let done = match args.command {
        GroupCommand::Add { name, gid } => {
            let rid = UsersFile::update(&path, |f| {
                let rid = f.add_group(&name)?;
                f.set_group_gid(&name, gid)?;
                Ok(rid)
            })?;
            format!("group {name} added (RID {rid})")
        }
        GroupCommand::Del { name } => {
            UsersFile::update(&path, |f| f.remove_group(&name))?;
            format!("group {name} removed")
        }
        GroupCommand::Members { group, add, remove } if add.is_empty() && remove.is_empty() => {
            let f = UsersFile::load_or_new(&path)?;
            let g = f.group(&group).ok_or_else(|| format!("no group {group:?}"))?;
            for m in &g.members {
                println!("{m}");
            }
            return Ok(());
        }
        GroupCommand::Members { group, add, remove } => {
            UsersFile::update(&path, |f| {
                add.iter().try_for_each(|u| f.set_member(&group, u, true))?;
                remove.iter().try_for_each(|u| f.set_member(&group, u, false))
            })?;
            format!("members of {group} changed")
        }
        GroupCommand::List => {
            for g in &UsersFile::load_or_new(&path)?.groups {
                let gid = g.gid.map(|gid| format!(" gid={gid}")).unwrap_or_default();
                println!("{:<20} {:>6} {}{gid}", g.name, g.rid, g.members.join(","));
            }
            return Ok(());
        }
    };
    changed(&path, &done);
    Ok(())
}
