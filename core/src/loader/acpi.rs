//! The ACPI tables a PC firmware would leave for the OS (ACPI 6.5 specification, chapter 5):
//! an RSDP (revision 0, section 5.2.5) in the BIOS area where the OS scans for it, an RSDT
//! (5.2.7), a revision-1 FADT (5.2.9) pointing at the PM registers of
//! [`crate::devices::acpi_pm`] with SCI on IRQ 9, a FACS (5.2.10), a DSDT (5.2.11.1) with the
//! `\_S5` sleep package and the PCI root bridge `\_SB.PCI0` (its windows and `_PRT`, see
//! [`super::aml`]), and a MADT (5.2.12) describing the local APIC, the I/O APIC, the IRQ 0 →
//! GSI 2 and SCI overrides and LINT1 as NMI.
//!
//! Left out: HPET, processor objects, the other sleep states, PCI hot plug, MCFG.

use super::aml;
use crate::devices::{acpi_pm, ioapic, lapic};

/// Where the tables go: the BIOS area the OS scans for the RSDP (0xE0000-0xFFFFF, reserved
/// in the e820 map).
pub const BASE: u32 = 0xF_0000;

const RSDT: u32 = BASE + 0x40;
const FADT: u32 = BASE + 0x80;
const FACS: u32 = BASE + 0x140; // 64-byte aligned
const DSDT: u32 = BASE + 0x180;

/// The 36-byte system description table header with `body` appended and the checksum set.
fn table(signature: &[u8; 4], revision: u8, body: &[u8]) -> Vec<u8> {
    let mut t = Vec::with_capacity(36 + body.len());
    t.extend_from_slice(signature);
    t.extend_from_slice(&((36 + body.len()) as u32).to_le_bytes());
    t.push(revision);
    t.push(0); // checksum, below
    t.extend_from_slice(b"VX86  "); // OEM ID
    t.extend_from_slice(b"VX86PC  "); // OEM table ID
    t.extend_from_slice(&1u32.to_le_bytes()); // OEM revision
    t.extend_from_slice(b"VX86"); // creator ID
    t.extend_from_slice(&1u32.to_le_bytes()); // creator revision
    t.extend_from_slice(body);
    t[9] = checksum(&t);
    t
}

/// The byte that makes `bytes` sum to zero.
fn checksum(bytes: &[u8]) -> u8 {
    0u8.wrapping_sub(bytes.iter().fold(0u8, |a, &b| a.wrapping_add(b)))
}

fn rsdp() -> Vec<u8> {
    let mut r = Vec::with_capacity(20);
    r.extend_from_slice(b"RSD PTR ");
    r.push(0); // checksum
    r.extend_from_slice(b"VX86  ");
    r.push(0); // revision 0: ACPI 1.0, RSDT only
    r.extend_from_slice(&RSDT.to_le_bytes());
    r[8] = checksum(&r);
    r
}

fn fadt() -> Vec<u8> {
    let mut b = vec![0u8; 116 - 36];
    let mut put32 = |off: usize, v: u32| b[off - 36..off - 32].copy_from_slice(&v.to_le_bytes());
    put32(36, FACS);
    put32(40, DSDT);
    put32(48, 0); // SMI_CMD: none, the machine is always in ACPI mode
    put32(56, acpi_pm::PM1_EVT as u32);
    put32(64, acpi_pm::PM1_CNT as u32);
    put32(76, acpi_pm::PM_TMR as u32);
    put32(112, 1 | 1 << 2 | 1 << 4 | 1 << 5 | 1 << 8); // WBINVD, C1, no buttons, 32-bit timer
    b[46 - 36..48 - 36].copy_from_slice(&9u16.to_le_bytes()); // SCI_INT
    b[88 - 36] = 4; // PM1_EVT_LEN
    b[89 - 36] = 2; // PM1_CNT_LEN
    b[91 - 36] = 4; // PM_TMR_LEN
    b[96 - 36..98 - 36].copy_from_slice(&101u16.to_le_bytes()); // no C2
    b[98 - 36..100 - 36].copy_from_slice(&1001u16.to_le_bytes()); // no C3
    table(b"FACP", 1, &b)
}

fn facs() -> Vec<u8> {
    let mut f = vec![0u8; 64];
    f[..4].copy_from_slice(b"FACS");
    f[4..8].copy_from_slice(&64u32.to_le_bytes());
    f
}

/// `Name (_S5, Package (4) { S5, S5, 0, 0 })` (S5 = the SLP_TYP value the PM1 control
/// register treats as soft-off) and the PCI root bridge, whose memory window runs from the
/// first 256 MiB boundary above RAM to below the I/O APIC.
fn dsdt(ram_size: u64) -> Vec<u8> {
    let typ = acpi_pm::SLP_TYP_S5 as u32;
    let mut aml = aml::name(
        "_S5",
        &aml::package(&[
            aml::integer(typ),
            aml::integer(typ),
            aml::integer(0),
            aml::integer(0),
        ]),
    );
    let window_start = ram_size.div_ceil(1 << 28).max(1) << 28;
    let routes: Vec<(u16, u8)> = (0..16)
        .map(|i| crate::bus::FIRST_SLOT + i)
        .map(|slot| (slot, crate::bus::pci_irq(slot)))
        .collect();
    if window_start < ioapic::BASE as u64 {
        aml.extend(aml::pci_root(
            window_start as u32,
            ioapic::BASE - 1,
            &routes,
        ));
    }
    table(b"DSDT", 2, &aml)
}

fn madt() -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&lapic::BASE.to_le_bytes());
    b.extend_from_slice(&1u32.to_le_bytes()); // PCAT_COMPAT: 8259s present
    b.extend_from_slice(&[0, 8, 0, 0, 1, 0, 0, 0]); // local APIC: processor 0, APIC ID 0, enabled
    b.extend_from_slice(&[1, 12, 1, 0]); // I/O APIC, ID 1
    b.extend_from_slice(&ioapic::BASE.to_le_bytes());
    b.extend_from_slice(&0u32.to_le_bytes()); // GSI base
                                              // interrupt source overrides: ISA IRQ 0 → GSI 2 (conforming); SCI IRQ 9 → GSI 9,
                                              // active high, level-triggered (flags 0b1101)
    b.extend_from_slice(&[2, 10, 0, 0, 2, 0, 0, 0, 0, 0]);
    b.extend_from_slice(&[2, 10, 0, 9, 9, 0, 0, 0, 0x0D, 0]);
    b.extend_from_slice(&[4, 6, 0xFF, 0, 0, 1]); // local APIC NMI: all processors, LINT1
    table(b"APIC", 3, &b)
}

/// The tables for a machine with `ram_size` bytes of RAM, as (physical address, bytes)
/// pieces.
pub fn tables(ram_size: u64) -> Vec<(u32, Vec<u8>)> {
    let dsdt = dsdt(ram_size);
    let madt_at = (DSDT + dsdt.len() as u32).next_multiple_of(16);
    let mut rsdt_body = Vec::new();
    rsdt_body.extend_from_slice(&FADT.to_le_bytes());
    rsdt_body.extend_from_slice(&madt_at.to_le_bytes());
    vec![
        (BASE, rsdp()),
        (RSDT, table(b"RSDT", 1, &rsdt_body)),
        (FADT, fadt()),
        (FACS, facs()),
        (DSDT, dsdt),
        (madt_at, madt()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sum(b: &[u8]) -> u8 {
        b.iter().fold(0u8, |a, &x| a.wrapping_add(x))
    }

    #[test]
    fn checksums_lengths_and_placement() {
        let t = tables(256 << 20);
        let (at, rsdp) = &t[0];
        assert_eq!(at % 16, 0, "the RSDP sits on a 16-byte boundary");
        assert_eq!(sum(&rsdp[..20]), 0);
        for (addr, bytes) in &t[1..] {
            if &bytes[..4] == b"FACS" {
                assert_eq!(addr % 64, 0);
                continue;
            }
            assert_eq!(sum(bytes), 0, "{}", String::from_utf8_lossy(&bytes[..4]));
            let len = u32::from_le_bytes(bytes[4..8].try_into().unwrap());
            assert_eq!(len as usize, bytes.len());
        }
        // no piece overlaps the next one
        for w in t.windows(2) {
            assert!(w[0].0 as usize + w[0].1.len() <= w[1].0 as usize);
        }
        let fadt = &t[2].1;
        assert_eq!(fadt.len(), 116);
        assert_eq!(u32::from_le_bytes(fadt[76..80].try_into().unwrap()), 0x608);
    }

    #[test]
    fn madt_entries_walk_to_the_end() {
        let madt = &tables(256 << 20)[5].1;
        let (mut at, mut kinds) = (44, Vec::new());
        while at < madt.len() {
            kinds.push(madt[at]);
            at += madt[at + 1] as usize;
        }
        assert_eq!(at, madt.len());
        assert_eq!(kinds, [0, 1, 2, 2, 4]);
    }
}
