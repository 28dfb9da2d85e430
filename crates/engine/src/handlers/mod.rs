//! Command handlers. Each takes the request context (`ctx.rs`) and returns a `Reply`
//! (`reply.rs`); the dispatcher owns headers, credits, compounding and signing. This
//! file routes a command to its handler, after the session, share and tree checks.

pub mod cancel;
pub mod close;
pub mod create;
pub mod create_open;
pub mod create_reconnect;
pub mod ctx;
pub mod deferred;
pub mod dir;
pub mod info_query;
pub mod info_set;
pub mod io;
pub mod ioctl;
pub mod lock;
pub mod negotiate;
pub mod notify;
pub mod pipe;
pub mod reply;
pub mod session_bind;
pub mod session_setup;
pub mod tree;

use crate::fault::Fault;
use ctx::Ctx;
use opportune_types::NtStatus;
use opportune_wire::header::Command;
use reply::{empty_ok, HResult, Reply};

pub fn handle(ctx: &mut Ctx<'_>, cmd: Command) -> Reply {
    use Command::*;
    if cmd == Negotiate {
        return negotiate::handle(ctx);
    }
    if ctx.conn.negotiated.is_none() {
        return Reply::fault(Fault::ProtocolViolation("request before NEGOTIATE"));
    }
    let result = match cmd {
        SessionSetup => session_setup::handle(ctx),
        Echo => Ok(empty_ok()),
        _ => ctx.check_session(cmd).and_then(|()| match cmd {
            Logoff => session_setup::logoff(ctx),
            TreeConnect => tree::connect(ctx),
            _ => tree::check_share(ctx, cmd).and_then(|()| ctx.check_tree()).and_then(|()| {
                // `unix_identity`: the request's system calls run as the tree's user.
                let unix = ctx.tree()?.unix.clone();
                crate::unix_id::act_as(unix.as_deref(), || handle_tree_command(ctx, cmd))?
            }),
        }),
    };
    result.unwrap_or_else(Reply::error)
}

fn handle_tree_command(ctx: &mut Ctx<'_>, cmd: Command) -> HResult {
    use Command::*;
    if ctx.tree()?.is_ipc()
        && let Some(r) = pipe::route(ctx, cmd)
    {
        return r;
    }
    match cmd {
        TreeDisconnect => tree::disconnect(ctx),
        Create => create::handle(ctx),
        Close => close::handle(ctx),
        Flush => io::flush(ctx),
        Read => io::read(ctx),
        Write => io::write(ctx),
        Lock => lock::handle(ctx),
        Ioctl => ioctl::handle(ctx),
        QueryDirectory => dir::handle(ctx),
        ChangeNotify => notify::handle(ctx),
        QueryInfo => info_query::handle(ctx),
        SetInfo => info_set::handle(ctx),
        OplockBreak => lock::oplock_break(ctx),
        Negotiate | SessionSetup | Logoff | TreeConnect | Cancel | Echo => Err(NtStatus::INVALID_PARAMETER),
    }
}
