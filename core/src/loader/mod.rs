//! Loaders: put a guest image into memory and the CPU into the state the image expects.
//! Multiboot v1 kernels and Linux bzImages (32-bit boot protocol, through the bzImage's own
//! decompressor or straight into the kernel proper extracted on the host).

pub mod acpi;
mod aml;
pub mod elf;
pub mod linux;
pub mod multiboot;
pub mod vmlinux;

/// The little-endian `u16` at byte `o` of `b`, if `b` holds it.
fn u16_at(b: &[u8], o: usize) -> Option<u16> {
    Some(u16::from_le_bytes(
        b.get(o..o.checked_add(2)?)?.try_into().ok()?,
    ))
}

/// The little-endian `u32` at byte `o` of `b`, if `b` holds it.
fn u32_at(b: &[u8], o: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        b.get(o..o.checked_add(4)?)?.try_into().ok()?,
    ))
}
