//! ELF32 i386 executables (System V gABI, "ELF Header" and "Program Header"), as the Multiboot
//! loader and the direct Linux entry load them: each `PT_LOAD` segment at its physical address
//! `p_paddr` (the file's `p_filesz` bytes, zeros up to `p_memsz`) and the entry point `e_entry`.
//!
//! Left out: section headers, dynamic linking and relocation, ELF64, big-endian files. Where the
//! segments may go and what `e_type` must be are the callers' rules.

use super::multiboot::Chunk;
use super::{u16_at, u32_at};

/// ELF program header type of a loadable segment.
const PT_LOAD: u32 = 1;
/// ELF machine number of the Intel 80386.
pub const EM_386: u16 = 3;
/// Most program headers read (a kernel has a handful).
const MAX_PROGRAM_HEADERS: usize = 64;

/// The loadable parts of an ELF32 i386 file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Executable {
    /// `e_type` (2 = executable).
    pub kind: u16,
    /// `e_entry`.
    pub entry: u32,
    /// The `PT_LOAD` segments in file order; `len` is `p_memsz`.
    pub chunks: Vec<Chunk>,
}

/// The segments and entry of `file`; `Err` gives the reason, for the caller to name its loader.
pub fn load_segments(file: &[u8]) -> Result<Executable, String> {
    if file.get(..4) != Some(b"\x7FELF") || file.get(4..6) != Some(&[1, 1]) {
        return Err("not a little-endian ELF32 file".into());
    }
    let header = |at| u16_at(file, at).ok_or("the ELF header is cut short");
    let (kind, machine) = (header(16)?, header(18)?);
    if machine != EM_386 {
        return Err(format!(
            "the ELF file is for machine {machine}, not an i386 executable"
        ));
    }
    let entry = u32_at(file, 24).ok_or("the ELF header is cut short")?;
    let phoff = u32_at(file, 28).ok_or("the ELF header is cut short")? as usize;
    let (phentsize, phnum) = (header(42)? as usize, header(44)? as usize);
    if phentsize < 32 || phnum > MAX_PROGRAM_HEADERS {
        return Err("bad program header table".into());
    }
    let mut chunks = Vec::new();
    for i in 0..phnum {
        let h = phoff
            .checked_add(i * phentsize)
            .and_then(|at| file.get(at..)?.get(..32))
            .ok_or_else(|| {
                format!("the ELF file is cut short: program header {i} lies beyond the file")
            })?;
        let field = |o: usize| u32_at(h, o).expect("32-byte header");
        if field(0) != PT_LOAD {
            continue;
        }
        let (offset, paddr, filesz, memsz) = (field(4), field(12), field(16), field(20));
        let data = (offset as usize)
            .checked_add(filesz as usize)
            .and_then(|stop| file.get(offset as usize..stop))
            .ok_or_else(|| {
                format!("segment {i}'s data lies outside the file (it runs beyond the file's end)")
            })?;
        if memsz < filesz {
            return Err("a segment's file size exceeds its memory size".into());
        }
        chunks.push(Chunk {
            addr: paddr,
            data: data.to_vec(),
            len: memsz,
        });
    }
    if chunks.is_empty() {
        return Err("no loadable segments".into());
    }
    Ok(Executable {
        kind,
        entry,
        chunks,
    })
}
