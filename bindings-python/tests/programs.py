"""Small real-mode programs for the tests, as machine code with their listings. Loaded at
0x7C00 with CS = 0 (linear address = IP)."""

# 7C00 b8 34 12    mov ax, 0x1234
# 7C03 bb 05 00    mov bx, 5
# 7C06 40          inc ax           ; loop: 5 times
# 7C07 4b          dec bx
# 7C08 75 fc       jnz 7C06
# 7C0A b0 4b       mov al, 'K'
# 7C0C e6 e9       out 0xE9, al     ; debug console
# 7C0E f4          hlt              ; IF = 0: stays halted
COUNT_LOOP = bytes.fromhex("b83412 bb0500 40 4b 75fc b04b e6e9 f4")

# 7C00 e4 99       in al, 0x99      ; an unclaimed port: reads 0xFF unless hooked
# 7C02 a2 00 06    mov [0x600], al
# 7C05 e6 e9       out 0xE9, al
# 7C07 f4          hlt
READ_PORT = bytes.fromhex("e499 a20006 e6e9 f4")

# 7C00 31 c9       xor cx, cx
# 7C02 cd 21       int 0x21         ; handler at 0x7E00: inc cx; iret
# 7C04 cd 21       int 0x21
# 7C06 0f 22 d8    mov cr3, eax
# 7C09 f4          hlt
INTERRUPTS = bytes.fromhex("31c9 cd21 cd21 0f22d8 f4")
INT21_HANDLER = bytes.fromhex("41 cf")  # inc cx; iret

# an endless loop of ALU and memory work (for the benchmarks and long runs):
# 7C00 40          inc ax
# 7C01 01 c3       add bx, ax
# 7C03 89 1e 00 06 mov [0x600], bx
# 7C07 eb f7       jmp 7C00
SPIN = bytes.fromhex("40 01c3 891e0006 ebf7")


def load(m, code, handler=None):
    """Loads `code` at 0x7C00 (and an INT 21h handler at 0x7E00 if given)."""
    m.load_flat(code, address=0x7C00)
    if handler is not None:
        m.write_phys(0x7E00, handler)
        m.write_phys(0x21 * 4, bytes([0x00, 0x7E, 0x00, 0x00]))
