//! Shared code of vx86's cross-crate tests.
pub mod guest_apic;
pub mod guest_exceptions;
pub mod guest_paging;
pub mod guest_privilege;
pub mod guest_tasks;
pub mod guest_x87;
pub mod guests;
pub mod host_cpu;
pub mod linux_guest;
pub mod singlestep;
pub mod util;
