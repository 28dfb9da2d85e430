//! The interfaces served over named pipes, and the dispatch of one call to them.
//!
//! A call's outcome is the response stub or a fault status: an opnum the interface does
//! not have is nca_s_op_rng_error, a stub that does not decode nca_s_fault_ndr (and an
//! unknown union arm nca_s_fault_invalid_tag), as C706 and MS-RPCE 3.1.1.5.5 give.

pub mod lsarpc;
pub mod srvsvc;
pub mod wkssvc;

use crate::ndr::{NdrError, Reader};
use crate::pdu::{status, SyntaxId};
use crate::provider::Provider;

/// An interface (abstract syntax) of a named pipe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interface {
    /// MS-SRVS 1.9: 4b324fc8-1670-01d3-1278-5a47bf6ee188 version 3.0, pipe `\PIPE\srvsvc`.
    Srvsvc,
    /// MS-WKST 1.9: 6bffd098-a112-3610-9833-46c3f87e345a version 1.0, pipe `\PIPE\wkssvc`.
    Wkssvc,
    /// MS-LSAT 1.9: 12345778-1234-abcd-ef00-0123456789ab version 0.0, pipe `\PIPE\lsarpc`.
    Lsarpc,
}

/// nca_s_fault_invalid_tag (C706 appendix E): a union discriminant with no arm.
pub const FAULT_INVALID_TAG: u32 = 0x1C00_0006;
/// nca_s_fault_context_mismatch (C706 appendix E): a context handle the server does not
/// hold, as the RPC runtime answers before the method runs.
pub const FAULT_CONTEXT_MISMATCH: u32 = 0x1C00_001A;

/// Why a call produced no response stub.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallError {
    /// The stub did not decode.
    Ndr(NdrError),
    /// A fault with this status.
    Fault(u32),
}

impl From<NdrError> for CallError {
    fn from(e: NdrError) -> Self {
        CallError::Ndr(e)
    }
}

impl Interface {
    /// The interface a pipe name opens: `srvsvc`, `wkssvc` or `lsarpc`, ignoring case,
    /// with or without a leading backslash (MS-SMB2 3.3.5.9: names on IPC$ are pipe names).
    pub fn for_pipe(name: &str) -> Option<Interface> {
        let n = name.strip_prefix('\\').unwrap_or(name);
        [Interface::Srvsvc, Interface::Wkssvc, Interface::Lsarpc].into_iter().find(|i| i.pipe_name().eq_ignore_ascii_case(n))
    }

    pub fn pipe_name(self) -> &'static str {
        match self {
            Interface::Srvsvc => "srvsvc",
            Interface::Wkssvc => "wkssvc",
            Interface::Lsarpc => "lsarpc",
        }
    }

    pub fn syntax(self) -> SyntaxId {
        match self {
            Interface::Srvsvc => SyntaxId::new(0x4b32_4fc8, 0x1670, 0x01d3, [0x12, 0x78, 0x5a, 0x47, 0xbf, 0x6e, 0xe1, 0x88], 3, 0),
            Interface::Wkssvc => SyntaxId::new(0x6bff_d098, 0xa112, 0x3610, [0x98, 0x33, 0x46, 0xc3, 0xf8, 0x7e, 0x34, 0x5a], 1, 0),
            Interface::Lsarpc => SyntaxId::new(0x1234_5778, 0x1234, 0xabcd, [0xef, 0x00, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab], 0, 0),
        }
    }

    /// Whether a bind's abstract syntax names this interface: the same UUID and major
    /// version, a minor version no newer than the one served (C706 12.6.4.3, p_cont_elem_t).
    pub fn accepts(self, s: &SyntaxId) -> bool {
        let mine = self.syntax();
        s.uuid == mine.uuid && s.major() == mine.major() && s.minor() <= mine.minor()
    }
}

/// What calls on one pipe remember between them: LSA policy handles.
#[derive(Debug)]
pub struct CallState {
    pub lsa: lsarpc::Handles,
}

impl CallState {
    /// `seed` makes the handles of different pipes differ (the server passes a random id).
    pub fn new(seed: u64) -> CallState {
        CallState { lsa: lsarpc::Handles::new(seed) }
    }
}

/// Runs `opnum` of `iface` on `stub`: the response stub, or a fault status.
pub fn call(iface: Interface, state: &mut CallState, opnum: u16, stub: &[u8], p: &dyn Provider) -> Result<Vec<u8>, u32> {
    let r = Reader::new(stub);
    let out = match iface {
        Interface::Srvsvc => srvsvc::call(opnum, r, p).map_err(CallError::Ndr),
        Interface::Wkssvc => wkssvc::call(opnum, r, p).map_err(CallError::Ndr),
        Interface::Lsarpc => lsarpc::call(opnum, r, &mut state.lsa, p),
    };
    match out {
        Ok(Some(stub)) => Ok(stub),
        Ok(None) => Err(status::OP_RNG_ERROR),
        Err(CallError::Fault(code)) => Err(code),
        Err(CallError::Ndr(NdrError::Tag)) => Err(FAULT_INVALID_TAG),
        Err(CallError::Ndr(_)) => Err(status::FAULT_NDR),
    }
}

/// `[in, string, unique] wchar_t*` (a server name): a referent id and, if not null, the string.
pub(crate) fn unique_wstring(r: &mut Reader<'_>) -> Result<Option<String>, NdrError> {
    match r.pointer()? {
        Some(_) => r.wstring().map(Some),
        None => Ok(None),
    }
}

/// The server name a caller passes is not checked: the pipe is already on this server,
/// and clients name it by NetBIOS name, DNS name or address alike.
pub(crate) const NO_ERROR: u32 = 0;
/// ERROR_INVALID_LEVEL.
pub(crate) const ERROR_INVALID_LEVEL: u32 = 124;
/// ERROR_ACCESS_DENIED.
pub(crate) const ERROR_ACCESS_DENIED: u32 = 5;
/// PLATFORM_ID_NT (MS-SRVS 2.2.2.6).
pub(crate) const PLATFORM_ID_NT: u32 = 500;
/// The operating-system version the server presents (sv101_version_major/minor,
/// wki100_ver_major/minor): 10.0, what current Windows reports.
pub(crate) const OS_VERSION: (u32, u32) = (10, 0);
