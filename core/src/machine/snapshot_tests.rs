//! Snapshot round trips, incremental chains and malformed input.

use super::*;

/// A real-mode loop that keeps changing registers and RAM while the PIT interrupts it:
/// the IVT entry for IRQ0 (vector 8) points at an `inc word [0x500]; iret`-style handler.
fn machine() -> Machine {
    #[rustfmt::skip]
    let code = [
        0xB0, 0x34, 0xE6, 0x43,             // mov al, 0x34; out 0x43, al (PIT ch0 mode 2)
        0xB0, 0x00, 0xE6, 0x40, 0xE6, 0x40, // reload 0x10000
        0xB0, 0xFE, 0xE6, 0x21,             // unmask IRQ0 only
        0xFB,                               // sti
        0x40, 0x89, 0x07, 0x83, 0xC3, 0x02, 0x81, 0xE3, 0xFE, 0x3F, 0xEB, 0xF4,
    ];
    #[rustfmt::skip]
    let handler = [
        0xFF, 0x06, 0x00, 0x05,             // inc word [0x500]
        0xB0, 0x20, 0xE6, 0x20,             // EOI
        0xCF,                               // iret
    ];
    let mut m = Machine::new(MachineConfig::default()).unwrap();
    m.write_phys(0x7E00, &handler).unwrap();
    m.write_phys(8 * 4, &[0x00, 0x7E, 0x00, 0x00]).unwrap();
    // initialise the 8259A pair: ICW1-ICW4, vectors 8 and 0x70
    let mut init = Vec::new();
    for (port, v) in [(0x20, 0x11), (0x21, 0x08), (0x21, 0x04), (0x21, 0x01)] {
        init.extend_from_slice(&[0xB0, v, 0xE6, port]);
    }
    let mut code_with_init = init;
    code_with_init.extend_from_slice(&code);
    m.load_flat(&code_with_init, 0x7C00, 0x7C00).unwrap();
    m
}

fn full(m: &mut Machine, compress: bool) -> Vec<u8> {
    m.save_snapshot(SnapshotOptions {
        compress,
        incremental: false,
    })
    .unwrap()
}

fn incremental(m: &mut Machine) -> Vec<u8> {
    m.save_snapshot(SnapshotOptions {
        compress: true,
        incremental: true,
    })
    .unwrap()
}

#[test]
fn restored_machine_continues_exactly_like_the_original() {
    for compress in [false, true] {
        let mut m = machine();
        m.run(300_000).unwrap();
        let bytes = full(&mut m, compress);
        assert_eq!(
            bytes,
            full(&mut m, compress),
            "canonical: same state, same bytes"
        );
        let mut r = Machine::from_snapshot(&bytes).unwrap();
        assert_eq!(r.state_hash(), m.state_hash());
        assert_eq!(r.instruction_count(), 300_000);
        m.run(700_000).unwrap();
        r.run(700_000).unwrap();
        assert_eq!(r.state_hash(), m.state_hash());
        let mut counter = [0u8; 2];
        r.read_phys(0x500, &mut counter).unwrap();
        assert!(u16::from_le_bytes(counter) > 0, "the timer interrupt ran");
    }
}

#[test]
fn incremental_chain_restores_in_order_and_only_in_order() {
    let mut m = machine();
    m.run(100_000).unwrap();
    let base = full(&mut m, true);
    m.run(100_000).unwrap();
    let inc1 = incremental(&mut m);
    m.run(100_000).unwrap();
    let inc2 = incremental(&mut m);
    let want = m.state_hash();
    assert!(inc1.len() < base.len(), "only the dirtied pages");

    let mut r = Machine::from_snapshot(&base).unwrap();
    let e = r.apply_incremental_snapshot(&inc2).unwrap_err().to_string();
    assert!(e.contains("not at this snapshot's base"), "{e}");
    r.apply_incremental_snapshot(&inc1).unwrap();
    r.apply_incremental_snapshot(&inc2).unwrap();
    assert_eq!(r.state_hash(), want);
    // an incremental one is not a full one, and vice versa
    assert!(Machine::from_snapshot(&inc1).is_err());
    let mut r = Machine::from_snapshot(&base).unwrap();
    assert!(r.apply_incremental_snapshot(&base).is_err());
    // running after the restore moves the machine off its base
    r.run(10).unwrap();
    assert!(r.apply_incremental_snapshot(&inc1).is_err());
}

#[test]
fn incremental_needs_a_baseline() {
    let mut m = machine();
    let opts = SnapshotOptions {
        compress: false,
        incremental: true,
    };
    let e = m.save_snapshot(opts).unwrap_err().to_string();
    assert!(e.contains("take a full snapshot"), "{e}");
    full(&mut m, false);
    let _ = m.checkpoint();
    let e = m.save_snapshot(opts).unwrap_err().to_string();
    assert!(e.contains("a checkpoint was taken"), "{e}");
}

/// Recomputes the trailer after editing a snapshot's content.
fn reseal(bytes: &mut [u8]) {
    use sha2::Digest;
    let n = bytes.len() - 32;
    let sum: [u8; 32] = sha2::Sha256::digest(&bytes[..n]).into();
    bytes[n..].copy_from_slice(&sum);
}

/// Offset and length of each section of an uncompressed snapshot.
fn sections(bytes: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut at = 96;
    while at < bytes.len() - 32 {
        let len = u64::from_le_bytes(bytes[at + 4..at + 12].try_into().unwrap()) as usize;
        out.push((at, 12 + len));
        at += 12 + len;
    }
    out
}

#[test]
fn corrupted_snapshots_are_refused_or_restore_safely() {
    let mut m = machine();
    m.run(50_000).unwrap();
    let good = full(&mut m, false);
    // every truncation point of the small sections, and a flipped bit anywhere: an error
    for n in (0..good.len()).step_by(97) {
        assert!(
            Machine::from_snapshot(&good[..n]).is_err(),
            "truncated to {n}"
        );
    }
    let mut flipped = good.clone();
    flipped[good.len() / 2] ^= 4;
    let e = Machine::from_snapshot(&flipped).unwrap_err().to_string();
    assert!(e.contains("checksum mismatch"), "{e}");
    // behind a valid checksum: random edits of the state sections (not the RAM bytes) must
    // be refused with a message or give a machine that runs without panicking
    let secs = sections(&good);
    let state_end = secs[4].0 + 12 + 16; // through the RAM section's header
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let (mut refused, mut restored) = (0, 0);
    for _ in 0..3000 {
        let mut b = good.clone();
        for _ in 0..1 + next() % 3 {
            let at = 96 + (next() as usize) % (state_end - 96);
            b[at] = match next() % 4 {
                0 => b[at] ^ (1 << (next() % 8)),
                1 => 0xFF,
                2 => 0,
                _ => next() as u8,
            };
        }
        reseal(&mut b);
        match Machine::from_snapshot(&b) {
            Err(e) => {
                assert!(!e.to_string().is_empty());
                refused += 1;
            }
            Ok(mut r) => {
                let _ = r.run(2_000);
                restored += 1;
            }
        }
    }
    assert!(
        refused > 300 && restored > 300,
        "{refused} refused, {restored} restored"
    );
}

#[test]
fn errors_name_the_problem() {
    let mut m = machine();
    let good = full(&mut m, false);
    let secs = sections(&good);
    // a device of the wrong kind: swap the first device's enum tag (DEVS starts with the
    // Vec length, 8 bytes, then the first device's 4-byte variant index)
    let mut b = good.clone();
    let devs = secs[3].0 + 12;
    b[devs + 8] ^= 1;
    reseal(&mut b);
    let e = Machine::from_snapshot(&b).unwrap_err().to_string();
    assert!(e.contains("DEVS"), "{e}");
    // RAM size that disagrees with the configuration
    let mut b = good.clone();
    let ram = secs[4].0 + 12;
    b[ram..ram + 8].copy_from_slice(&(8u64 << 20).to_le_bytes());
    reseal(&mut b);
    let e = Machine::from_snapshot(&b).unwrap_err().to_string();
    assert!(e.contains("RAM"), "{e}");
    let e = Machine::from_snapshot(b"VX86SNAP").unwrap_err().to_string();
    assert!(e.starts_with("bad snapshot: truncated"), "{e}");
}
