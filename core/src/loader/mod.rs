//! Loaders: put a guest image into memory and the CPU into the state the image expects.
//! Multiboot v1 kernels today; the Linux boot protocol arrives with the Linux-boot issue.

pub mod multiboot;
