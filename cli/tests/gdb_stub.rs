//! The GDB remote stub (`--gdb HOST:PORT`) end to end: a small real-mode program under
//! `vx86 run-flat`, driven packet by packet with a minimal remote-protocol client written here
//! (registers, memory read and write, a breakpoint, single step, continue to the halt, kill),
//! and the Debian guest under `vx86 run` driven by the real `gdb` (the kernel's 32-bit entry,
//! disassembly, stepi, the budget stop, a breakpoint, detach: the guest then runs on).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

mod common;
use common::{guest_args, temp};

/// The test program, loaded at 0x7C00 (CS = 0, so linear addresses are EIP values):
/// ```text
/// 7c00 b8 34 12   mov ax, 0x1234
/// 7c03 bb 05 00   mov bx, 5
/// 7c06 40         inc ax          ; loop: 5 times
/// 7c07 4b         dec bx
/// 7c08 75 fc      jnz 7c06
/// 7c0a b0 4b      mov al, 'K'
/// 7c0c e6 e9      out 0xe9, al    ; debug console
/// 7c0e f4         hlt             ; IF = 0: halted for good
/// ```
const PROGRAM: &[u8] = &[
    0xb8, 0x34, 0x12, 0xbb, 0x05, 0x00, 0x40, 0x4b, 0x75, 0xfc, 0xb0, 0x4b, 0xe6, 0xe9, 0xf4,
];

/// Starts `vx86 ARGS --gdb 127.0.0.1:0` and returns the child and the port it listens on
/// (read from its "waiting for gdb on ..." line; the rest of stderr is kept in a thread).
fn start_stub(args: &[&str]) -> (Child, u16, std::thread::JoinHandle<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vx86"))
        .args(args)
        .args(["--gdb", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    let port = line
        .trim()
        .strip_prefix("vx86: waiting for gdb on 127.0.0.1:")
        .unwrap_or_else(|| panic!("unexpected first line on stderr: {line:?}"))
        .parse()
        .unwrap();
    let rest = std::thread::spawn(move || {
        let mut s = line;
        err.read_to_string(&mut s).unwrap();
        s
    });
    (child, port, rest)
}

/// A minimal GDB remote-protocol client (acknowledged mode).
struct Rsp(TcpStream);

impl Rsp {
    fn send(&mut self, body: &str) {
        let sum = body.bytes().fold(0u8, |a, b| a.wrapping_add(b));
        write!(self.0, "${body}#{sum:02x}").unwrap();
        let mut ack = [0u8; 1];
        self.0.read_exact(&mut ack).unwrap();
        assert_eq!(ack[0], b'+', "stub did not acknowledge {body:?}");
    }

    fn reply(&mut self) -> String {
        let mut b = [0u8; 1];
        loop {
            self.0.read_exact(&mut b).unwrap();
            if b[0] == b'$' {
                break;
            }
        }
        let mut body = Vec::new();
        loop {
            self.0.read_exact(&mut b).unwrap();
            if b[0] == b'#' {
                break;
            }
            body.push(b[0]);
        }
        let mut sum = [0u8; 2];
        self.0.read_exact(&mut sum).unwrap();
        let want = body.iter().fold(0u8, |a, &c| a.wrapping_add(c));
        assert_eq!(
            u8::from_str_radix(std::str::from_utf8(&sum).unwrap(), 16).unwrap(),
            want,
            "bad checksum"
        );
        self.0.write_all(b"+").unwrap();
        // run-length encoding: `c*N` is c followed by (N - 29) more copies of it
        let mut out = Vec::new();
        let mut i = 0;
        while i < body.len() {
            if body[i] == b'*' && i + 1 < body.len() {
                let last = *out.last().expect("run length without a character");
                out.extend(std::iter::repeat_n(last, usize::from(body[i + 1]) - 29));
                i += 2;
            } else {
                out.push(body[i]);
                i += 1;
            }
        }
        String::from_utf8(out).unwrap()
    }

    fn ask(&mut self, body: &str) -> String {
        self.send(body);
        self.reply()
    }
}

/// 32-bit register `i` (gdb's i386 order: eax ecx edx ebx esp ebp esi edi eip eflags ...)
/// from a `g` reply.
fn reg(g: &str, i: usize) -> u32 {
    let hex = &g[8 * i..8 * i + 8];
    u32::from_le_bytes(std::array::from_fn(|k| {
        u8::from_str_radix(&hex[2 * k..2 * k + 2], 16).unwrap()
    }))
}

fn with_reg(g: &str, i: usize, v: u32) -> String {
    let hex: String = v.to_le_bytes().iter().map(|b| format!("{b:02x}")).collect();
    format!("{}{hex}{}", &g[..8 * i], &g[8 * i + 8..])
}

/// A stop reply for SIGTRAP (`S05`, or `T05` with details such as `swbreak`).
fn is_trap(stop: &str) -> bool {
    stop.starts_with("S05") || stop.starts_with("T05")
}

const EAX: usize = 0;
const EBX: usize = 3;
const EIP: usize = 8;

#[test]
fn remote_protocol_registers_memory_breakpoint_step_and_kill() {
    let file = temp("prog.bin");
    std::fs::write(&file, PROGRAM).unwrap();
    let (mut child, port, stderr) = start_stub(&["run-flat", file.to_str().unwrap()]);
    let mut gdb = Rsp(TcpStream::connect(("127.0.0.1", port)).unwrap());

    let why = gdb.ask("?");
    assert!(is_trap(&why), "initial stop: {why}");
    let g = gdb.ask("g");
    assert_eq!(reg(&g, EIP), 0x7c00);
    assert_eq!(gdb.ask("m7c00,3"), "b83412");

    // breakpoint after the loop: AX was incremented 5 times, BX counted down to 0
    assert_eq!(gdb.ask("Z0,7c0a,1"), "OK");
    let stop = gdb.ask("c");
    assert!(is_trap(&stop), "breakpoint stop: {stop}");
    let g = gdb.ask("g");
    assert_eq!(
        (reg(&g, EIP), reg(&g, EAX), reg(&g, EBX)),
        (0x7c0a, 0x1239, 0)
    );

    // patch the immediate of `mov al, 'K'` to 'O' before it runs, and step over it
    assert_eq!(gdb.ask("M7c0b,1:4f"), "OK");
    assert_eq!(gdb.ask("m7c0a,2"), "b04f");
    let stop = gdb.ask("s");
    assert!(is_trap(&stop), "step stop: {stop}");
    let g = gdb.ask("g");
    assert_eq!((reg(&g, EIP), reg(&g, EAX)), (0x7c0c, 0x124f));

    // a register write: AL = 'X' is what the OUT prints
    assert_eq!(gdb.ask(&format!("G{}", with_reg(&g, EAX, 0x1258))), "OK");
    assert_eq!(reg(&gdb.ask("g"), EAX), 0x1258);
    assert_eq!(gdb.ask("z0,7c0a,1"), "OK");
    let stop = gdb.ask("c");
    assert!(is_trap(&stop), "stop at the halt: {stop}");
    assert_eq!(reg(&gdb.ask("g"), EIP), 0x7c0f, "EIP after the HLT");
    // continuing a halted machine reports the same stop again
    assert!(is_trap(&gdb.ask("c")));

    gdb.send("k");
    let status = child.wait().unwrap();
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let err = stderr.join().unwrap();
    std::fs::remove_file(&file).ok();
    assert!(status.success(), "exit {status:?}; stderr:\n{err}");
    assert_eq!(out, "X", "debug-console output; stderr:\n{err}");
    assert!(
        err.contains("guest halted with nothing to wake it"),
        "{err}"
    );
}

#[test]
fn a_bad_listen_address_is_refused_with_a_message() {
    let out = Command::new(env!("CARGO_BIN_EXE_vx86"))
        .args(["run-flat", "/dev/null", "--gdb", "not-an-address"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--gdb not-an-address"), "{err}");
}

/// Runs `gdb -batch` with these commands against a stub started with `vx86 ARGS`; returns
/// gdb's output (stdout and stderr), vx86's stderr and its exit code.
fn gdb_session(args: &[&str], commands: &[String]) -> (String, String, Option<i32>) {
    let gdb_ok = Command::new("gdb").arg("--version").output();
    assert!(
        gdb_ok.is_ok_and(|o| o.status.success()),
        "gdb is not installed (tests/all.sh installs it: apt-get install gdb)"
    );
    let (mut child, port, stderr) = start_stub(args);
    let mut cmd = Command::new("gdb");
    cmd.args(["-q", "-batch", "-nx", "-ex"])
        .arg(format!("target remote 127.0.0.1:{port}"));
    for c in commands {
        cmd.args(["-ex", c]);
    }
    let out = cmd.output().unwrap();
    let gdb_out =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    let status = child.wait().unwrap();
    (gdb_out, stderr.join().unwrap(), status.code())
}

/// The hex number after `label` in gdb's output.
fn printed(out: &str, label: &str) -> u32 {
    let at = out
        .find(label)
        .unwrap_or_else(|| panic!("no {label:?} in gdb's output:\n{out}"));
    let hex = out[at + label.len()..]
        .trim_start_matches("0x")
        .split(|c: char| !c.is_ascii_hexdigit())
        .next()
        .unwrap();
    u32::from_str_radix(hex, 16).unwrap()
}

/// Phase 1: at the kernel's 32-bit entry (the loader starts it at code32_start, 0x100000,
/// CS = 0x10, paging off; its first instruction is `cld`), single step, then continue to the
/// 20 M instruction budget: where the kernel is then (its decompressor) is address X. Phase 2,
/// a new process: a breakpoint at X is hit (the run is deterministic, so X runs by 20 M at the
/// latest), registers and memory read there, one step, detach: the guest runs on to the budget.
#[test]
fn real_gdb_on_the_linux_guest_steps_breaks_and_detaches() {
    let guest = guest_args();
    let run = |max: &'static str| {
        let mut args: Vec<&str> = vec!["run"];
        args.extend(guest.iter().map(String::as_str));
        args.extend([
            "--append",
            "console=ttyS0 panic=-1",
            "--max-instructions",
            max,
        ]);
        args
    };
    let phase1 = [
        r#"printf "ENTRY eip=%#x cs=%#x\n", $eip, $cs"#.to_string(),
        "x/1i $pc".into(),
        "stepi".into(),
        r#"printf "STEPPED eip=%#x\n", $eip"#.into(),
        "continue".into(),
        r#"printf "BUDGET eip=%#x\n", $eip"#.into(),
        "kill".into(),
    ];
    let (out, err, code) = gdb_session(&run("20000000"), &phase1);
    assert_eq!(
        printed(&out, "ENTRY eip="),
        0x10_0000,
        "gdb:\n{out}\nvx86:\n{err}"
    );
    assert_eq!(printed(&out, "cs="), 0x10, "gdb:\n{out}");
    assert!(
        out.contains("0x100000:\tcld"),
        "disassembly at the entry:\n{out}"
    );
    assert_eq!(printed(&out, "STEPPED eip="), 0x10_0001, "gdb:\n{out}");
    assert!(
        out.contains("SIGXCPU"),
        "the budget stop:\n{out}\nvx86:\n{err}"
    );
    assert!(
        err.contains("instruction budget (--max-instructions) reached"),
        "{err}"
    );
    assert_eq!(
        code,
        Some(3),
        "killed at the budget: the budget's exit code; {err}"
    );
    let x = printed(&out, "BUDGET eip=");
    assert!(x > 0x10_0001, "the kernel moved on: {x:#x}");

    let phase2 = [
        format!("break *{x:#x}"),
        "continue".into(),
        r#"printf "AT eip=%#x esp=%#x\n", $eip, $esp"#.into(),
        "x/4xb $pc".into(),
        "stepi".into(),
        r#"printf "STEPPED eip=%#x\n", $eip"#.into(),
        "delete".into(),
        "detach".into(),
    ];
    let (out, err, code) = gdb_session(&run("40000000"), &phase2);
    assert!(out.contains("Breakpoint 1, "), "gdb:\n{out}\nvx86:\n{err}");
    assert_eq!(printed(&out, "AT eip="), x, "gdb:\n{out}");
    assert_ne!(printed(&out, "esp="), 0, "gdb:\n{out}");
    assert!(
        out.contains(&format!("{x:#x}:\t0x")),
        "memory at the breakpoint:\n{out}"
    );
    assert_ne!(printed(&out, "STEPPED eip="), x, "gdb:\n{out}");
    assert!(err.contains("gdb detached; the guest runs on"), "{err}");
    assert!(err.contains("exit=budget instructions=40000000"), "{err}");
    assert_eq!(code, Some(3), "budget exit code: {err}");
}
