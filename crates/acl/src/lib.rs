//! NT security descriptors, pure: no I/O, no clock.
//!
//! * [`descriptor`]: the self-relative form (MS-DTYP 2.4.6) parsed and encoded with
//!   every offset and length checked, and merged by SecurityInformation flags
//!   (MS-FSA 2.1.5.16).
//! * [`ace`] and [`acl`]: ACEs (MS-DTYP 2.4.4) and ACLs (2.4.5). Allowed and denied
//!   ACEs are understood; every other type (audit, object, callback ACEs) is kept
//!   opaque, byte for byte.
//! * [`check`]: AccessCheck (MS-DTYP 2.5.3.2), MAXIMUM_ALLOWED included, with the
//!   privileges a file server consults.
//! * [`mapping`]: generic rights of files and directories (MS-DTYP 2.4.3, MS-FSA 2.1.5.1.2.1).
//! * [`inherit`]: the descriptor of a new object (MS-DTYP 2.5.3.4 CreateSecurityDescriptor,
//!   ComputeACL).
//!
//! The server (`opportune-server`'s `security` and `access_check` modules) reads and
//! stores descriptors; this crate only decides.
#![forbid(unsafe_code)]

pub mod ace;
pub mod acl;
pub mod check;
pub mod descriptor;
pub mod inherit;
pub mod mapping;

pub use ace::{Ace, AceBody};
pub use acl::Acl;
pub use check::{access_check, AccessRequest, Decision, Rule};
pub use descriptor::SecurityDescriptor;
pub use inherit::{create_descriptor, NewObject};
pub use mapping::GenericMapping;
