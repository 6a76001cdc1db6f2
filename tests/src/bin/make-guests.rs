//! `make-guests DIR`: writes every guest test program (`vx86_tests::guests::all`) as
//! `DIR/<name>.elf`, a Multiboot v1 kernel that runs unchanged in vx86 and in QEMU.

fn main() {
    let Some(dir) = std::env::args().nth(1) else {
        eprintln!("usage: make-guests DIR");
        std::process::exit(2);
    };
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("make-guests: {dir}: {e}");
        std::process::exit(2);
    }
    for (name, build) in vx86_tests::guests::all() {
        let elf = build().unwrap_or_else(|e| panic!("assembling {name}: {e}"));
        let path = format!("{dir}/{name}.elf");
        std::fs::write(&path, elf).unwrap_or_else(|e| panic!("{path}: {e}"));
        println!("{path}");
    }
}
