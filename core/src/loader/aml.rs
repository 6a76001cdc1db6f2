//! The few pieces of ACPI Machine Language the DSDT needs (ACPI 6.5, chapter 20 "ACPI Machine
//! Language (AML) Specification", and 6.4 "Resource Data Types for ACPI"): names, packages,
//! buffers, integers, scopes and devices, and the resource descriptors of a PCI host
//! bridge's `_CRS`.
//!
//! The DSDT describes the `\_S5` sleep package and the PCI root bridge `\_SB.PCI0`
//! (PNP0A03) with its bus range, I/O and memory windows (`_CRS`) and its interrupt routing
//! (`_PRT`: INTA# of every slot vx86 uses to a GSI, the same line the devices drive).

/// PkgLength (20.2.4): the length of what follows including the PkgLength bytes themselves.
fn pkg_length(body_len: usize) -> Vec<u8> {
    // one byte holds up to 63; otherwise a lead byte with the count of extra bytes
    if body_len + 1 < 64 {
        return vec![(body_len + 1) as u8];
    }
    for extra in 1..=3usize {
        let total = body_len + 1 + extra;
        if total < 1 << (4 + 8 * extra) {
            let mut v = vec![(extra as u8) << 6 | (total & 0xF) as u8];
            for i in 0..extra {
                v.push((total >> (4 + 8 * i)) as u8);
            }
            return v;
        }
    }
    panic!("AML object of {body_len} bytes is too large");
}

/// `op` followed by a PkgLength and `body`.
fn with_length(op: &[u8], body: &[u8]) -> Vec<u8> {
    let mut v = op.to_vec();
    v.extend(pkg_length(body.len()));
    v.extend_from_slice(body);
    v
}

/// An integer in the smallest encoding (ZeroOp, OneOp, Byte/Word/DWordPrefix).
pub fn integer(n: u32) -> Vec<u8> {
    match n {
        0 => vec![0x00],
        1 => vec![0x01],
        2..=0xFF => vec![0x0A, n as u8],
        0x100..=0xFFFF => vec![0x0B, n as u8, (n >> 8) as u8],
        _ => {
            let mut v = vec![0x0C];
            v.extend_from_slice(&n.to_le_bytes());
            v
        }
    }
}

/// `Name (name, value)`; `name` is a 4-character segment or a path starting with `\`.
pub fn name(name: &str, value: &[u8]) -> Vec<u8> {
    let mut v = vec![0x08];
    v.extend(name_string(name));
    v.extend_from_slice(value);
    v
}

fn name_string(name: &str) -> Vec<u8> {
    let (root, rest) = match name.strip_prefix('\\') {
        Some(r) => (true, r),
        None => (false, name),
    };
    let segs: Vec<&str> = rest.split('.').filter(|s| !s.is_empty()).collect();
    let mut v = Vec::new();
    if root {
        v.push(b'\\');
    }
    match segs.len() {
        0 => v.push(0x00),
        1 => {}
        2 => v.push(0x2E), // DualNamePrefix
        n => {
            v.push(0x2F); // MultiNamePrefix
            v.push(n as u8);
        }
    }
    for s in segs {
        let mut seg = [b'_'; 4];
        seg[..s.len()].copy_from_slice(s.as_bytes());
        v.extend_from_slice(&seg);
    }
    v
}

/// `Package () { elements }` (each element an encoded data object).
pub fn package(elements: &[Vec<u8>]) -> Vec<u8> {
    let mut body = vec![elements.len() as u8];
    for e in elements {
        body.extend_from_slice(e);
    }
    with_length(&[0x12], &body)
}

/// `Buffer () { bytes }`.
pub fn buffer(bytes: &[u8]) -> Vec<u8> {
    let mut body = integer(bytes.len() as u32);
    body.extend_from_slice(bytes);
    with_length(&[0x11], &body)
}

/// `Scope (name) { terms }`.
pub fn scope(name: &str, terms: &[u8]) -> Vec<u8> {
    let mut body = name_string(name);
    body.extend_from_slice(terms);
    with_length(&[0x10], &body)
}

/// `Device (name) { terms }`.
pub fn device(name: &str, terms: &[u8]) -> Vec<u8> {
    let mut body = name_string(name);
    body.extend_from_slice(terms);
    with_length(&[0x5B, 0x82], &body)
}

/// A compressed EISA id such as "PNP0A03" (as `EisaId()` makes it, a DWord).
pub fn eisa_id(id: &str) -> Vec<u8> {
    let b = id.as_bytes();
    let c = |i: usize| (b[i] - b'@') as u32 & 0x1F;
    let vendor = c(0) << 10 | c(1) << 5 | c(2);
    let product = u32::from_str_radix(&id[3..7], 16).unwrap_or(0);
    let bytes = [
        (vendor >> 8) as u8,
        vendor as u8,
        (product >> 8) as u8,
        product as u8,
    ];
    let mut v = vec![0x0C];
    v.extend_from_slice(&bytes);
    v
}

/// Resource descriptors (6.4): a WordBusNumber / WordIO producer with fixed bounds.
fn word_space(kind: u8, min: u16, max: u16) -> Vec<u8> {
    let mut d = vec![0x88, 13, 0, kind, 0x0C, if kind == 1 { 3 } else { 0 }];
    for v in [0, min, max, 0, max - min + 1] {
        d.extend_from_slice(&v.to_le_bytes());
    }
    d
}

/// A DWordMemory producer (read/write, not cacheable) with fixed bounds.
fn dword_memory(min: u32, max: u32) -> Vec<u8> {
    let mut d = vec![0x87, 23, 0, 0, 0x0C, 0x01];
    for v in [0, min, max, 0, max - min + 1] {
        d.extend_from_slice(&v.to_le_bytes());
    }
    d
}

/// `\_SB.PCI0`: the host bridge, its windows (`mmio_start..=mmio_end` for BARs, the legacy
/// VGA hole, all I/O ports but the configuration ports) and `_PRT` entries routing INTA# of
/// each `(slot, gsi)`.
pub fn pci_root(mmio_start: u32, mmio_end: u32, routes: &[(u16, u8)]) -> Vec<u8> {
    let mut crs = word_space(2, 0, 0xFF);
    crs.extend_from_slice(&[0x47, 0x01, 0xF8, 0x0C, 0xF8, 0x0C, 0x01, 0x08]); // IO 0xCF8, 8
    crs.extend(word_space(1, 0, 0xCF7));
    crs.extend(word_space(1, 0xD00, 0xFFFF));
    crs.extend(dword_memory(0xA_0000, 0xB_FFFF));
    crs.extend(dword_memory(mmio_start, mmio_end));
    crs.extend_from_slice(&[0x79, 0x00]); // end tag
    let prt: Vec<Vec<u8>> = routes
        .iter()
        .map(|&(slot, gsi)| {
            // address 0xSSSSFFFF (any function), pin 0 (INTA#), source 0 (a GSI), the GSI
            package(&[
                integer((slot as u32) << 16 | 0xFFFF),
                integer(0),
                integer(0),
                integer(gsi as u32),
            ])
        })
        .collect();
    let mut terms = name("_HID", &eisa_id("PNP0A03"));
    terms.extend(name("_UID", &integer(0)));
    terms.extend(name("_BBN", &integer(0)));
    terms.extend(name("_CRS", &buffer(&crs)));
    terms.extend(name("_PRT", &package(&prt)));
    scope("\\_SB", &device("PCI0", &terms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_from_the_specification() {
        // EisaId ("PNP0A03") is the DWord 0x030AD041 (as iasl emits it)
        assert_eq!(eisa_id("PNP0A03"), vec![0x0C, 0x41, 0xD0, 0x0A, 0x03]);
        assert_eq!(pkg_length(10), vec![11]);
        // 100 bytes of body: 102 in all, lead byte 0b01 << 6 | (102 & 0xF), then 102 >> 4
        assert_eq!(pkg_length(100), vec![0x40 | 6, 6]);
        assert_eq!(name_string("\\_SB.PCI0"), b"\\\x2E_SB_PCI0".to_vec());
        assert_eq!(integer(0x1234), vec![0x0B, 0x34, 0x12]);
        assert_eq!(
            package(&[integer(1), integer(5)]),
            vec![0x12, 5, 2, 0x01, 0x0A, 5]
        );
    }

    #[test]
    fn pci_root_is_well_formed() {
        let aml = pci_root(0xE000_0000, 0xFEBF_FFFF, &[(2, 10), (3, 11)]);
        assert_eq!(aml[0], 0x10, "ScopeOp");
        // the outer PkgLength covers the whole object
        let (lead, extra) = (aml[1], (aml[1] >> 6) as usize);
        let total = (0..extra).fold((lead & 0xF) as usize, |t, i| {
            t | (aml[2 + i] as usize) << (4 + 8 * i)
        });
        assert_eq!(1 + total, aml.len());
        assert!(aml.windows(4).any(|w| w == b"_PRT"));
        assert!(aml.windows(4).any(|w| w == b"PCI0"));
    }
}
