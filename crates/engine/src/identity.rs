//! Who a session is for, before any token: a proven user, a guest, or anonymous.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Identity {
    User,
    Guest,
    Anonymous,
}
