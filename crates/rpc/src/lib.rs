//! DCE/RPC over SMB2 named pipes (MS-RPCE, C706 chapter 12 and 14), sans-IO.
//!
//! * [`ndr`]: the NDR20 transfer syntax (C706 chapter 14): a checked reader that never
//!   panics and bounds every allocation by the bytes it has, and a writer.
//! * [`pdu`]: connection-oriented PDUs (C706 12.6, MS-RPCE 2.2.2): bind, bind_ack,
//!   bind_nak, alter_context(_resp), request, response, fault.
//! * [`pipe`]: one open named pipe: bytes written in, response fragments queued for
//!   READ (a transceive is a write and a read).
//! * [`services`]: srvsvc (MS-SRVS), wkssvc (MS-WKST) and lsarpc (MS-LSAT), answering
//!   from a read-only [`provider::Provider`].
//! * [`sid`]: security identifiers (MS-DTYP 2.4.2).
//!
//! Nothing here does I/O or depends on an async runtime.

#![forbid(unsafe_code)]

pub mod ndr;
pub mod pdu;
pub mod pipe;
pub mod provider;
pub mod services;
pub mod sid;

pub use pipe::{Pipe, PipeError, ReadOutcome};
pub use provider::Provider;
pub use services::Interface;
