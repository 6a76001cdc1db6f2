//! Runner for the SingleStepTests 80286 real-mode vectors (format: the README next to them in
//! `shared/testdata/singlestep-80286`). Each test loads registers and RAM, runs one instruction
//! and the HLT after it (or at the jump/exception target), and compares every register and the
//! listed RAM bytes. Works on any directory in that format.
//!
//! The vectors were recorded on a real 80286. Where a 386+ (which vx86 models) architecturally
//! differs, the test is skipped or its expectation adjusted; every such case is one row of
//! [`DIFFERENCES`], with its reason.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use vx86_core::{CpuState, ExitReason, Machine, MachineConfig, SegReg, Segment};

/// One test vector.
#[derive(Debug, Deserialize)]
pub struct Test {
    /// Index within its file.
    pub idx: u32,
    /// Disassembly.
    pub name: String,
    /// Instruction bytes (followed by HLT).
    pub bytes: Vec<u8>,
    /// State before.
    pub initial: Snapshot,
    /// Changed state after.
    #[serde(rename = "final")]
    pub fin: Snapshot,
    /// Exception raised, if any.
    pub exception: Option<ExceptionInfo>,
    /// Test identity (for the revocation list).
    pub hash: String,
}

/// Registers and RAM bytes.
#[derive(Debug, Clone, Deserialize)]
pub struct Snapshot {
    /// Register name → value.
    pub regs: BTreeMap<String, u32>,
    /// (24-bit physical address, byte).
    pub ram: Vec<(u32, u8)>,
}

/// The exception a test raised.
#[derive(Debug, Deserialize)]
pub struct ExceptionInfo {
    /// Vector.
    pub number: u8,
    /// Physical address of the pushed FLAGS image.
    pub flag_address: u32,
}

/// What a documented 286-vs-386+ difference does to a test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Do not run the test.
    Skip,
    /// Run it, but expect FLAGS bits 12-14 (IOPL, NT) as popped from the stack.
    KeepPoppedIoplNt,
    /// Run the instruction without its LOCK prefix (what the 286 executed), starting one byte
    /// later; a fault then pushes the address of the shorter instruction.
    StripLock,
}

/// A documented architectural difference between the 80286 the vectors were recorded on and
/// the 386+ that vx86 models.
pub struct Difference {
    /// Short name.
    pub name: &'static str,
    /// Why the 286 result does not apply (with the reference).
    pub reason: &'static str,
    /// Which tests it covers.
    pub applies: fn(&Test) -> bool,
    /// What the runner does with them.
    pub action: Action,
}

fn is_prefix(b: u8) -> bool {
    matches!(b, 0x26 | 0x2E | 0x36 | 0x3E | 0xF0 | 0xF2 | 0xF3)
}

/// Instruction bytes after the prefixes.
fn opcode_bytes(t: &Test) -> &[u8] {
    let n = t.bytes.iter().take_while(|&&b| is_prefix(b)).count();
    &t.bytes[n..]
}

fn has_lock(t: &Test) -> bool {
    t.bytes
        .iter()
        .take_while(|&&b| is_prefix(b))
        .any(|&b| b == 0xF0)
}

/// Whether a 386+ accepts LOCK on this instruction: a read-modify-write of a memory operand
/// by ADD/OR/ADC/SBB/AND/SUB/XOR (r/m forms), group 1 (not CMP), XCHG, NOT/NEG, INC/DEC
/// (SDM vol. 2, LOCK). The 286 opcodes of the vectors have no other lockable forms.
fn lockable(t: &Test) -> bool {
    let op = opcode_bytes(t);
    let (Some(&o), Some(&m)) = (op.first(), op.get(1)) else {
        return false;
    };
    let mem = m >> 6 != 3;
    let reg = (m >> 3) & 7;
    mem && match o {
        0x00..=0x3F => o & 7 < 2 && o >> 3 != 7,
        0x80..=0x83 => reg != 7,
        0x86 | 0x87 => true,
        0xF6 | 0xF7 => reg == 2 || reg == 3,
        0xFE | 0xFF => reg < 2,
        _ => false,
    }
}

/// Instruction length without the HLT the vectors append.
fn insn_len(t: &Test) -> usize {
    t.bytes.len().saturating_sub(1)
}

fn popped_flags(t: &Test, offset: u32) -> Option<u16> {
    let r = &t.initial.regs;
    let ss = *r.get("ss")?;
    let sp = *r.get("sp")?;
    let at = |o: u32| -> Option<u8> {
        let addr = (ss << 4) + ((sp + o) & 0xFFFF);
        t.initial
            .ram
            .iter()
            .find(|(a, _)| *a == addr)
            .map(|(_, b)| *b)
    };
    Some(u16::from_le_bytes([at(offset)?, at(offset + 1)?]))
}

/// The table of documented differences. Nothing else is skipped.
pub const DIFFERENCES: &[Difference] = &[
    Difference {
        name: "x87 escape without a coprocessor",
        reason:
            "the 286 the vectors were recorded on had no 287, so ESC (D8-DF) only computed its \
                 address; a 386+ with an FPU executes an x87 operation, and vx86 has no x87 yet \
                 (CR0.EM=1: #NM). The x87 is checked by its own tests with the x87 issue.",
        applies: |t| matches!(opcode_bytes(t).first(), Some(0xD8..=0xDF)),
        action: Action::Skip,
    },
    Difference {
        name: "MOV CS, r/m16",
        reason: "the 286 loads CS from 8E /1; on a 386+ it is an invalid opcode (#UD), SDM vol. 2 \
                 MOV: 'the MOV instruction cannot be used to load the CS register'.",
        applies: |t| matches!(opcode_bytes(t), [0x8E, m, ..] if (m >> 3) & 7 == 1),
        action: Action::Skip,
    },
    Difference {
        name: "FS/GS in MOV Sreg",
        reason: "the 286 has no FS/GS: 8C/8E with reg 4 or 5 raise #UD there; a 386+ moves FS/GS.",
        applies: |t| matches!(opcode_bytes(t), [0x8C | 0x8E, m, ..] if matches!((m >> 3) & 7, 4 | 5)),
        action: Action::Skip,
    },
    Difference {
        name: "instruction longer than 10 bytes",
        reason: "the 286 raises #GP for an instruction (with prefixes) longer than 10 bytes; the \
                 386+ limit is 15 (SDM vol. 2, 2.3.11).",
        applies: |t| insn_len(t) > 10 && t.exception.as_ref().is_some_and(|e| e.number == 13),
        action: Action::Skip,
    },
    Difference {
        name: "string instruction faulting on a segment limit",
        reason: "the 286 has already advanced SI/DI when a word string access at offset FFFF \
                 faults; on a 386+ the fault is restartable and the registers are unchanged \
                 (SDM vol. 3A, 6.5 'faults ... restart').",
        applies: |t| {
            matches!(
                opcode_bytes(t).first(),
                Some(0x6C..=0x6F | 0xA4..=0xA7 | 0xAA..=0xAF)
            ) && t.exception.as_ref().is_some_and(|e| e.number == 13)
        },
        action: Action::Skip,
    },
    Difference {
        name: "LOCK prefix on a non-lockable instruction",
        reason: "the 286 ignores LOCK anywhere; a 386+ raises #UD when LOCK precedes anything but \
                 a read-modify-write of memory (SDM vol. 2, LOCK). The test runs the instruction \
                 the 286 executed, without the prefix.",
        applies: |t| has_lock(t) && !lockable(t),
        action: Action::StripLock,
    },
    Difference {
        name: "POPF/IRET loading IOPL and NT in real mode",
        reason: "the 286 in real mode keeps FLAGS bits 12-15 clear; a 386+ in real mode (CPL 0) \
                 loads IOPL and NT from the popped image (SDM vol. 2, POPF operation, real-address \
                 mode). The expected FLAGS get the popped bits 12-14; everything else is compared \
                 as recorded.",
        applies: |t| match opcode_bytes(t).first() {
            Some(0x9D) => popped_flags(t, 0).is_some_and(|f| f & 0x7000 != 0),
            Some(0xCF) => popped_flags(t, 4).is_some_and(|f| f & 0x7000 != 0),
            _ => false,
        },
        action: Action::KeepPoppedIoplNt,
    },
];

/// Result of one file.
#[derive(Debug, Default, Clone)]
pub struct FileResult {
    /// File name.
    pub file: String,
    /// Tests that passed.
    pub passed: u64,
    /// Tests that were skipped, by difference name.
    pub skipped: BTreeMap<&'static str, u64>,
    /// One line per failure: name, bytes, first difference.
    pub failures: Vec<String>,
}

impl FileResult {
    /// Number of skipped tests.
    pub fn skipped_total(&self) -> u64 {
        self.skipped.values().sum()
    }
}

/// Per-opcode FLAGS masks from `metadata.json`.
pub struct Metadata {
    opcodes: serde_json::Value,
}

impl Metadata {
    /// Loads `metadata.json` from `dir` (absent → every mask is 0xFFFF).
    pub fn load(dir: &Path) -> Result<Self, String> {
        let p = dir.join("metadata.json");
        if !p.exists() {
            return Ok(Self {
                opcodes: serde_json::Value::Null,
            });
        }
        let text = std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))?;
        let v: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", p.display()))?;
        Ok(Self {
            opcodes: v.get("opcodes").cloned().unwrap_or(serde_json::Value::Null),
        })
    }

    /// The FLAGS mask for a file stem like `80.3` or `04`.
    pub fn flags_mask(&self, stem: &str) -> u16 {
        let mut parts = stem.split('.');
        let op = parts.next().unwrap_or("");
        let reg = parts.next();
        let entry = &self.opcodes[op];
        let specific = reg.map(|r| &entry["reg"][r]).unwrap_or(entry);
        specific["flags-mask"]
            .as_u64()
            .or_else(|| entry["flags-mask"].as_u64())
            .unwrap_or(0xFFFF) as u16
    }
}

/// Hashes listed in `revocation_list.txt` (absent → none).
pub fn revoked(dir: &Path) -> BTreeSet<String> {
    std::fs::read_to_string(dir.join("revocation_list.txt"))
        .map(|t| {
            t.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

const REG_NAMES: [&str; 8] = ["ax", "cx", "dx", "bx", "sp", "bp", "si", "di"];
const SEG_NAMES: [(&str, SegReg); 4] = [
    ("es", SegReg::Es),
    ("cs", SegReg::Cs),
    ("ss", SegReg::Ss),
    ("ds", SegReg::Ds),
];
/// RAM large enough for every real-mode address with A20 enabled (up to 0x10FFEF).
const RAM: usize = 0x11_1000;
/// Enough for a REP with CX = 0xFFFF plus the HLT.
const MAX_STEPS: u64 = 0x2_0000;

fn initial_state(t: &Test) -> Result<CpuState, String> {
    let r = |n: &str| {
        t.initial
            .regs
            .get(n)
            .copied()
            .ok_or_else(|| format!("initial register {n} missing"))
    };
    let mut s = CpuState::real_mode(0, 0, 0);
    for (i, n) in REG_NAMES.iter().enumerate() {
        s.regs[i] = r(n)?;
    }
    for (n, seg) in SEG_NAMES {
        s.segs[seg as usize] = Segment::real(r(n)? as u16, seg == SegReg::Cs);
    }
    s.eip = r("ip")?;
    s.eflags = r("flags")? & 0x0FFF;
    Ok(s)
}

/// Runs one test with the adjustments `actions` (none of them `Skip`); `Err` is the first
/// difference.
pub fn run_test(t: &Test, flags_mask: u16, actions: &[Action]) -> Result<(), String> {
    // The vectors were recorded with nothing on the I/O bus: no PIC, no debug console.
    let mut m = Machine::new(MachineConfig {
        ram_size: RAM,
        a20_enabled: true,
        debug_console: false,
        chipset: false,
        ..MachineConfig::default()
    })
    .map_err(|e| e.to_string())?;
    let mut state = initial_state(t)?;
    for &(a, b) in &t.initial.ram {
        m.write_phys(a as u64, &[b]).map_err(|e| e.to_string())?;
    }
    // Where the 286 raised #GP for a segment-limit violation through SS, a 386+ raises #SS
    // (vector 12): give vector 12 the handler the test installed for vector 13.
    if t.exception.as_ref().is_some_and(|e| e.number == 13)
        && !t
            .initial
            .ram
            .iter()
            .any(|&(a, _)| (0x30..0x34).contains(&a))
    {
        let mut v13 = [0u8; 4];
        m.read_phys(0x34, &mut v13).map_err(|e| e.to_string())?;
        m.write_phys(0x30, &v13).map_err(|e| e.to_string())?;
    }
    let strip_lock = actions.contains(&Action::StripLock);
    if strip_lock {
        // Move the prefixes before LOCK one byte up over it and start there.
        let lin = |ip: u32| ((state.segs[SegReg::Cs as usize].base) + (ip & 0xFFFF)) as u64;
        let lock_at = t.bytes.iter().position(|&b| b == 0xF0).unwrap_or(0);
        let kept: Vec<u8> = t.bytes[..lock_at].to_vec();
        state.eip = (state.eip + 1) & 0xFFFF;
        for (i, b) in kept.iter().enumerate() {
            m.write_phys(lin(state.eip + i as u32), &[*b])
                .map_err(|e| e.to_string())?;
        }
    }
    m.set_cpu_state(state);
    match m.run(MAX_STEPS) {
        Ok(ExitReason::Halted) => {}
        Ok(other) => return Err(format!("run ended with {other:?} instead of HLT")),
        Err(e) => return Err(format!("run failed: {e}")),
    }
    let s = m.cpu_state();
    let expect = |n: &str| {
        t.fin
            .regs
            .get(n)
            .or_else(|| t.initial.regs.get(n))
            .copied()
            .unwrap_or(0)
    };
    for (i, n) in REG_NAMES.iter().enumerate() {
        let got = s.regs[i] & 0xFFFF;
        if got != expect(n) {
            return Err(format!("{n}: expected {:04x}, got {got:04x}", expect(n)));
        }
        if s.regs[i] >> 16 != 0 {
            return Err(format!("e{n}: upper half set ({:08x})", s.regs[i]));
        }
    }
    for (n, seg) in SEG_NAMES {
        let got = s.segs[seg as usize].selector as u32;
        if got != expect(n) {
            return Err(format!("{n}: expected {:04x}, got {got:04x}", expect(n)));
        }
    }
    if s.eip != expect("ip") {
        return Err(format!(
            "ip: expected {:04x}, got {:04x}",
            expect("ip"),
            s.eip
        ));
    }
    let mut want_flags = expect("flags");
    if actions.contains(&Action::KeepPoppedIoplNt) {
        // Bits 12-14 as popped: the POPF/IRET image is the last thing on the final stack below SP.
        let popped = if opcode_bytes(t).first() == Some(&0x9D) {
            popped_flags(t, 0)
        } else {
            popped_flags(t, 4)
        };
        want_flags = (want_flags & !0x7000) | (popped.unwrap_or(0) as u32 & 0x7000);
    }
    let fm = flags_mask as u32 | 0xFFFF_0000;
    if (s.eflags & fm) != (want_flags & fm) {
        return Err(format!(
            "flags: expected {:04x}, got {:04x} (mask {flags_mask:04x})",
            want_flags & fm,
            s.eflags & fm
        ));
    }
    // `flag_address` is the word-aligned bus address: with an odd SP the pushed FLAGS image
    // starts one byte after it.
    let sp_odd = t.initial.regs.get("sp").is_some_and(|sp| sp & 1 == 1);
    let image = t.exception.as_ref().map(|e| e.flag_address + sp_odd as u32);
    let masked = |addr: u32| -> u8 {
        match image {
            Some(f) if addr == f => flags_mask as u8,
            Some(f) if addr == f + 1 => (flags_mask >> 8) as u8,
            _ => 0xFF,
        }
    };
    let mut want_ram: Vec<(u32, u8)> = t.fin.ram.clone();
    if let (true, Some(f)) = (strip_lock, image) {
        // A fault pushed the instruction's own address: one byte later without the prefix.
        let ip_at = f - 4;
        let byte = |a: u32| want_ram.iter().find(|(x, _)| *x == a).map(|(_, b)| *b);
        if let (Some(lo), Some(hi)) = (byte(ip_at), byte(ip_at + 1)) {
            let pushed = u16::from_le_bytes([lo, hi]);
            if pushed as u32 == expect_initial(t, "ip") {
                let [nlo, nhi] = pushed.wrapping_add(1).to_le_bytes();
                for (a, b) in want_ram.iter_mut() {
                    if *a == ip_at {
                        *b = nlo;
                    } else if *a == ip_at + 1 {
                        *b = nhi;
                    }
                }
            }
        }
    }
    for &(a, want) in &want_ram {
        let mut b = [0u8];
        m.read_phys(a as u64, &mut b).map_err(|e| e.to_string())?;
        let mk = masked(a);
        if b[0] & mk != want & mk {
            return Err(format!(
                "ram[{a:06x}]: expected {want:02x}, got {:02x}",
                b[0]
            ));
        }
    }
    Ok(())
}

fn expect_initial(t: &Test, n: &str) -> u32 {
    t.initial.regs.get(n).copied().unwrap_or(0)
}

/// Runs every test of one `*.jsonl.gz` file.
pub fn run_file(
    path: &Path,
    meta: &Metadata,
    revoked: &BTreeSet<String>,
) -> Result<FileResult, String> {
    let file = path
        .file_name()
        .and_then(|f| f.to_str())
        .unwrap_or("?")
        .to_string();
    let stem = file.trim_end_matches(".jsonl.gz").to_string();
    let mask = meta.flags_mask(&stem);
    let f = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let reader = BufReader::new(flate2::read::GzDecoder::new(f));
    let mut res = FileResult {
        file,
        ..Default::default()
    };
    for (n, line) in reader.lines().enumerate() {
        let line = line.map_err(|e| format!("{}: line {}: {e}", path.display(), n + 1))?;
        if line.trim().is_empty() {
            continue;
        }
        let t: Test = serde_json::from_str(&line)
            .map_err(|e| format!("{}: line {}: {e}", path.display(), n + 1))?;
        if revoked.contains(&t.hash) {
            *res.skipped.entry("revoked").or_default() += 1;
            continue;
        }
        let diffs: Vec<&Difference> = DIFFERENCES.iter().filter(|d| (d.applies)(&t)).collect();
        if let Some(d) = diffs.iter().find(|d| d.action == Action::Skip) {
            *res.skipped.entry(d.name).or_default() += 1;
            continue;
        }
        let actions: Vec<Action> = diffs.iter().map(|d| d.action).collect();
        match run_test(&t, mask, &actions) {
            Ok(()) => res.passed += 1,
            Err(why) => {
                let mut bytes = String::new();
                for b in &t.bytes {
                    let _ = write!(bytes, "{b:02x} ");
                }
                res.failures.push(format!(
                    "#{} {} [{}]: {why}",
                    t.idx,
                    t.name,
                    bytes.trim_end()
                ));
            }
        }
    }
    Ok(res)
}

/// The `*.jsonl.gz` files of `dir`, sorted by name.
pub fn test_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_str().is_some_and(|s| s.ends_with(".jsonl.gz")))
        .collect();
    v.sort();
    Ok(v)
}

/// Totals over a directory.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    /// Passed.
    pub passed: u64,
    /// Failed.
    pub failed: u64,
    /// Skipped.
    pub skipped: u64,
}

/// Runs a directory, calling `report` after each file; returns the totals.
pub fn run_dir(dir: &Path, mut report: impl FnMut(&FileResult)) -> Result<Totals, String> {
    let meta = Metadata::load(dir)?;
    let revoked = revoked(dir);
    let files = test_files(dir)?;
    if files.is_empty() {
        return Err(format!("no *.jsonl.gz files in {}", dir.display()));
    }
    let mut t = Totals::default();
    for f in files {
        let r = run_file(&f, &meta, &revoked)?;
        t.passed += r.passed;
        t.failed += r.failures.len() as u64;
        t.skipped += r.skipped_total();
        report(&r);
    }
    Ok(t)
}
