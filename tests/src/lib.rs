//! Shared code of vx86's cross-crate tests.
pub mod guest_exceptions;
pub mod guests;
pub mod singlestep;
