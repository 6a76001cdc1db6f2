//! Shared code of vx86's cross-crate tests.
pub mod singlestep;
