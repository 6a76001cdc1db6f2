//! Loaders: put a guest image into memory and the CPU into the state the image expects.
//! Multiboot v1 kernels and Linux bzImages (32-bit boot protocol, through the bzImage's own
//! decompressor or straight into the kernel proper extracted on the host).

pub mod acpi;
mod aml;
pub mod linux;
pub mod multiboot;
pub mod vmlinux;
