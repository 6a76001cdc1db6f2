//! Running the same code on this machine's CPU and in vx86, for the differential tests
//! (`host_diff`, `x87_host_diff`): a fixed RWX mapping holding a 4 KiB data buffer and the
//! 64-bit code, a trampoline that loads EAX..EDI and the arithmetic flags, calls the code and
//! stores them back, and the vx86 side running the 32-bit encoding in flat protected mode.
//! The data buffer is at the same address on both sides, so `[ebx+disp]` operands agree.
#![cfg(all(target_arch = "x86_64", target_os = "linux"))]

use std::arch::asm;
use vx86_core::cpu::{cr0, cr4, flag, Descriptor};
use vx86_core::{CpuState, ExitReason, Machine, SegReg};

/// The data buffer's address on both sides.
pub const DATA: u64 = 0x0010_0000;
/// The data buffer's size.
pub const DATA_LEN: usize = 0x1000;
/// Where the code goes on both sides.
pub const CODE: u64 = 0x0011_0000;
/// EBX during the tests: the middle of the buffer, so 8-bit-or-more displacements reach it all.
pub const EBX_BASE: u32 = 0x0010_0800;
/// The arithmetic flags, the ones compared.
pub const ARITH: u32 = flag::CF | flag::PF | flag::AF | flag::ZF | flag::SF | flag::OF;

/// The memory operand `[ebx+disp]` (iced adds the 0x67 prefix in 64-bit mode).
pub fn ebx_mem(disp: i32) -> iced_x86::MemoryOperand {
    iced_x86::MemoryOperand::with_base_displ(iced_x86::Register::EBX, disp as i64)
}

/// The offset in the data buffer of `[EBX_BASE + disp]`.
pub fn data_offset(disp: i32) -> usize {
    (EBX_BASE as i64 + disp as i64 - DATA as i64) as usize
}

/// `ins` encoded for `bitness` (32 for vx86, 64 for the host).
pub fn encode(ins: &[iced_x86::Instruction], bitness: u32) -> Vec<u8> {
    let mut e = iced_x86::Encoder::new(bitness);
    for i in ins {
        e.encode(i, 0).unwrap_or_else(|err| panic!("{i}: {err}"));
    }
    e.take_buffer()
}

/// Maps the 2 MiB RWX area at [`DATA`] (panics with the reason when it cannot).
pub fn map_host_area() {
    let got = mmap_fixed_noreplace(DATA, 2 << 20);
    assert_eq!(
        got, DATA as i64,
        "cannot map 2 MiB RWX at {DATA:#x} with MAP_FIXED_NOREPLACE (errno {}): the address is \
         taken, the kernel is older than 4.17, or W+X mappings are forbidden",
        -got
    );
}

/// Registers (EAX..EDI, ESP unused), EFLAGS and the data buffer.
#[derive(Clone, PartialEq)]
pub struct State {
    /// EAX..EDI (ESP unused).
    pub regs: [u32; 8],
    /// EFLAGS (arithmetic flags compared).
    pub eflags: u32,
    /// The data buffer.
    pub mem: Vec<u8>,
}

/// mmap(2) through a raw system call (no libc dependency). Returns the kernel's result.
fn mmap_fixed_noreplace(addr: u64, len: u64) -> i64 {
    const PROT_RWX: u64 = 7;
    const FLAGS: u64 = 0x02 | 0x20 | 0x10_0000; // MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE
    let ret: i64;
    // SAFETY: mmap with MAP_FIXED_NOREPLACE never replaces an existing mapping.
    unsafe {
        asm!("syscall", inlateout("rax") 9i64 => ret, in("rdi") addr, in("rsi") len,
             in("rdx") PROT_RWX, in("r10") FLAGS, in("r8") -1i64, in("r9") 0u64,
             lateout("rcx") _, lateout("r11") _, options(nostack));
    }
    ret
}

/// Runs the 64-bit code at CODE on this CPU with `ctx` = EAX..EDI (zero-extended; ESP is not
/// loaded) and RFLAGS, which receive the final values.
///
/// # Safety
/// CODE must hold instructions that touch no memory outside the mapping, never use RSP and
/// end in `ret`.
unsafe fn host_call(ctx: &mut [u64; 9]) {
    asm!(
        "push rbx", "push rbp", "push r12", "push r13", "push r14", "push r15",
        "mov r12, rsi",
        "push rdi",                      // the context pointer, recovered after the call
        "push qword ptr [rdi + 64]",
        "popfq",                         // MOVs below leave the flags alone
        "mov eax, dword ptr [rdi]",
        "mov ecx, dword ptr [rdi + 8]",
        "mov edx, dword ptr [rdi + 16]",
        "mov ebx, dword ptr [rdi + 24]",
        "mov ebp, dword ptr [rdi + 40]",
        "mov esi, dword ptr [rdi + 48]",
        "mov edi, dword ptr [rdi + 56]",
        "call r12",
        "xchg rdi, qword ptr [rsp]",     // rdi = context, guest EDI on the stack (no flags)
        "mov qword ptr [rdi], rax",
        "mov qword ptr [rdi + 8], rcx",
        "mov qword ptr [rdi + 16], rdx",
        "mov qword ptr [rdi + 24], rbx",
        "mov qword ptr [rdi + 40], rbp",
        "mov qword ptr [rdi + 48], rsi",
        "pop qword ptr [rdi + 56]",
        "pushfq",
        "pop qword ptr [rdi + 64]",
        "pop r15", "pop r14", "pop r13", "pop r12", "pop rbp", "pop rbx",
        inout("rdi") ctx.as_mut_ptr() => _,
        inout("rsi") CODE => _,
        clobber_abi("C"),
    );
}

/// Runs `code64` on this CPU from `init`.
pub fn run_host(init: &State, code64: &[u8]) -> State {
    // SAFETY: DATA..DATA+2 MiB is our private RWX mapping; the generator guarantees the code
    // only accesses [DATA, DATA+4 KiB) and leaves RSP alone.
    unsafe {
        let data = std::slice::from_raw_parts_mut(DATA as *mut u8, DATA_LEN);
        data.copy_from_slice(&init.mem);
        let code = std::slice::from_raw_parts_mut(CODE as *mut u8, code64.len() + 1);
        code[..code64.len()].copy_from_slice(code64);
        code[code64.len()] = 0xC3; // ret
        let mut ctx = [0u64; 9]; // ctx[4] (ESP) is neither loaded nor stored
        ctx[8] = u64::from(init.eflags & ARITH | flag::FIXED1);
        let mut regs = init.regs;
        ctx.iter_mut().zip(regs).for_each(|(c, r)| *c = r.into());
        host_call(&mut ctx);
        regs.iter_mut().zip(ctx).for_each(|(r, c)| *r = c as u32);
        State {
            regs,
            eflags: ctx[8] as u32,
            mem: data.to_vec(),
        }
    }
}

fn desc(access: u8) -> u64 {
    0xFFFF | (access as u64) << 40 | 0xF << 48 | 0xC << 52 // base 0, limit 4 GiB, 32-bit
}

/// Runs `code32` (`n` instructions, then HLT) in vx86 in flat 32-bit protected mode from `init`,
/// with SSE enabled (CR4.OSFXSR, OSXMMEXCPT) as on the host.
pub fn run_vx86(m: &mut Machine, init: &State, code32: &[u8], n: usize) -> Result<State, String> {
    m.write_phys(DATA, &init.mem).unwrap();
    m.write_phys(CODE, &[code32, &[0xF4]].concat()).unwrap(); // ... hlt
    let mut s = CpuState::reset();
    s.cr0 = cr0::PE | cr0::ET | cr0::NE;
    s.cr4 = cr4::OSFXSR | cr4::OSXMMEXCPT;
    s.segs = [Descriptor(desc(0x93)).to_segment(0x10); 6];
    s.segs[SegReg::Cs as usize] = Descriptor(desc(0x9B)).to_segment(0x08);
    s.regs = init.regs;
    s.eip = CODE as u32;
    s.eflags = init.eflags & ARITH | flag::FIXED1;
    m.set_cpu_state(s);
    let exit = m.run(n as u64 + 1);
    if !matches!(exit, Ok(ExitReason::Halted)) {
        let eip = m.cpu_state().eip;
        return Err(format!(
            "vx86 did not reach the HLT: {exit:?} at EIP {eip:#x}"
        ));
    }
    let s = m.cpu_state();
    let mut mem = vec![0; DATA_LEN];
    m.read_phys(DATA, &mut mem).unwrap();
    Ok(State {
        regs: s.regs,
        eflags: s.eflags,
        mem,
    })
}
