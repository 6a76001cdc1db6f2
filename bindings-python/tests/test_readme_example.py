"""The example in the README, verbatim: keep the two in step."""


def test_readme_example():
    # --- README example start ---
    import vx86

    m = vx86.Machine(memory="16M")
    # mov ax, 0x1234; inc ax; out 0xE9, al; hlt
    m.load_flat(bytes.fromhex("b83412 40 e6e9 f4"), address=0x7C00)
    m.step()
    assert m.regs.ax == 0x1234

    # see every byte the guest writes to the debug port 0xE9
    seen = []
    m.hook_io(ports=0xE9, callback=lambda port, size, is_write, value: seen.append(value))

    with m.checkpoint():  # restored when the block ends
        exit = m.run()
        assert exit.reason == "halted" and seen == [0x35]
    assert m.regs.ax == 0x1234 and m.instruction_count == 1

    snap = m.snapshot().to_bytes()  # portable: the CLI, Node and the browser read it
    assert vx86.Machine.from_bytes(snap).state_hash() == m.state_hash()
    # --- README example end ---
