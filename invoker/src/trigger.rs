//! What starts invocations. Each kind lives in its own module and calls
//! [`crate::invoke::invoke`].

pub mod http;
pub mod schedule;
