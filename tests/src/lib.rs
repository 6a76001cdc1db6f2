//! Shared code of vx86's cross-crate tests.
pub mod guest_exceptions;
pub mod guest_paging;
pub mod guests;
pub mod singlestep;
