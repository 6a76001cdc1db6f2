//! Record, replay, perturb and bisect on a small real-mode program that reads COM1.

use super::*;

/// Polls COM1's line status, adds each received byte into the word at 0x600 and echoes it:
/// `in al,dx` on 0x3FD until bit 0, `in al` from 0x3F8, `add [0x600],ax`, `out` it back.
fn machine() -> Machine {
    #[rustfmt::skip]
    let code = [
        0x31, 0xC0,                   // xor ax, ax
        0xBA, 0xFD, 0x03,             // mov dx, 0x3FD
        0xEC,                         // in al, dx        (loop)
        0xA8, 0x01,                   // test al, 1
        0x74, 0xFB,                   // jz loop
        0xBA, 0xF8, 0x03,             // mov dx, 0x3F8
        0xEC,                         // in al, dx
        0x01, 0x06, 0x00, 0x06,       // add [0x600], ax
        0xEE,                         // out dx, al
        0xEB, 0xED,                   // jmp to mov dx, 0x3FD
    ];
    let mut m = Machine::new(MachineConfig::default()).unwrap();
    m.load_flat(&code, 0x7C00, 0x7C00).unwrap();
    m
}

fn sum(m: &Machine) -> u16 {
    let mut b = [0; 2];
    m.read_phys(0x600, &mut b).unwrap();
    u16::from_le_bytes(b)
}

/// A recorded session: three inputs at different counts; checkpoints every 5000.
fn record() -> (Vec<u8>, [u8; 32], Vec<u8>) {
    let mut m = machine();
    m.start_recording(RecordStart::Snapshot, 5000).unwrap();
    m.run(10_000).unwrap();
    m.send_serial(b"ab");
    m.run(12_345).unwrap();
    m.send_serial(b"c");
    m.run(20_000).unwrap();
    m.send_serial(b"xyz");
    m.run(30_000).unwrap();
    assert_eq!(sum(&m), b"abcxyz".iter().map(|&b| b as u16).sum::<u16>());
    let out = m.take_serial_output();
    assert_eq!(out, b"abcxyz");
    let log = m.finish_recording().unwrap();
    assert!(log.events.len() > 14, "inputs, 14 checkpoints and the end");
    (log.to_bytes(), m.state_hash(), out)
}

fn no_images(_: &ImageRef) -> Result<Vec<u8>, String> {
    Err("no images in this test".into())
}

#[test]
fn replay_reproduces_output_and_hash_in_any_slicing() {
    let (bytes, hash, out) = record();
    for slice in [u64::MAX, 777] {
        let mut r = Replay::from_bytes(&bytes).unwrap();
        let mut m = r.start_machine(&mut no_images).unwrap();
        loop {
            match r.advance(&mut m, slice).unwrap() {
                ReplayStatus::Running => continue,
                ReplayStatus::Finished => break,
                ReplayStatus::Diverged(d) => panic!("{d}"),
            }
        }
        assert_eq!(m.state_hash(), hash);
        assert_eq!(m.take_serial_output(), out);
    }
}

#[test]
fn a_perturbed_input_is_found_at_its_instruction() {
    let (bytes, _, _) = record();
    let clean = Replay::from_bytes(&bytes).unwrap();
    for k in 0..3 {
        let mut bad = clean.clone();
        let at = bad.perturb_input(k).unwrap();
        let mut m = bad.start_machine(&mut no_images).unwrap();
        let d = match bad.advance(&mut m, u64::MAX).unwrap() {
            ReplayStatus::Diverged(d) => d,
            other => panic!("perturbed input {k} not noticed: {other:?}"),
        };
        assert!(
            d.icount >= at && d.icount - at <= 5000,
            "the next checkpoint"
        );
        let first = first_difference(
            (&clean, clean.start_machine(&mut no_images).unwrap()),
            (&bad, bad.start_machine(&mut no_images).unwrap()),
            d.icount,
        )
        .unwrap()
        .unwrap();
        assert_eq!(first.icount, at, "input {k}: {first}");
    }
    // two identical replays do not differ
    let same = first_difference(
        (&clean, clean.start_machine(&mut no_images).unwrap()),
        (&clean, clean.start_machine(&mut no_images).unwrap()),
        40_000,
    )
    .unwrap();
    assert_eq!(same, None);
}

#[test]
fn recording_refuses_what_would_break_the_log() {
    let mut m = machine();
    let c = m.checkpoint();
    assert!(m.start_recording(RecordStart::Snapshot, 0).is_err());
    let e = m
        .start_recording(
            RecordStart::Boot {
                kernel_path: "k".into(),
                initrd_path: None,
            },
            10,
        )
        .unwrap_err();
    assert!(e.to_string().contains("after load_linux"), "{e}");
    m.start_recording(RecordStart::Snapshot, 10).unwrap();
    assert!(m.restore_checkpoint(&c).is_err());
    assert!(m.finish_recording().is_some());
    assert!(!m.is_recording());
}
