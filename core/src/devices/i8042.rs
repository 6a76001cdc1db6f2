//! The 8042 keyboard controller of a PC/AT (IBM PC/AT Technical Reference, "Keyboard
//! controller"; command set as documented for PS/2 systems) at ports 0x60/0x64, with an
//! attached keyboard that answers the commands operating systems send while probing, plus
//! the "system control port A" at 0x92 (fast A20 gate and reset) and the POST-code port 0x80.
//!
//! The controller drives the A20 gate and the CPU reset line (output port bits 1 and 0, and
//! the pulse command 0xFE), so `a20` and `reset_requested` are read by the machine after every
//! access. The auxiliary port works (interface test, enable/disable, the 0xD3 loopback that
//! operating systems use to find it, IRQ 12) with a PS/2 mouse attached that answers the
//! standard commands (reset, identify, rates, status) and never moves. Answering these at once
//! matters: a controller that stays silent makes Linux wait out its 0.5 s command timeouts.
//! Left out: key and mouse input from the host (arrives with the input queue), scancode
//! translation tables, the password and diagnostic commands.

use std::collections::VecDeque;

/// Status register bits.
mod st {
    pub const OBF: u8 = 0x01;
    pub const SYS: u8 = 0x04;
    pub const CMD: u8 = 0x08;
    pub const UNLOCKED: u8 = 0x10;
    /// The byte in the output buffer comes from the auxiliary device.
    pub const AUX: u8 = 0x20;
}

/// What a write to the data port (0x60) means next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, bincode::Encode, bincode::Decode)]
pub enum DataTarget {
    /// A command for the keyboard.
    #[default]
    Keyboard,
    /// The argument of a keyboard command (LEDs, scancode set, typematic rate).
    KeyboardArgument,
    /// The controller command byte (after 0x60).
    CommandByte,
    /// The output port (after 0xD1).
    OutputPort,
    /// A byte to place in the output buffer as if from the keyboard (after 0xD2).
    KeyboardOutput,
    /// A byte to place in the output buffer as if from the auxiliary device (after 0xD3).
    AuxOutput,
    /// A byte for the mouse (after 0xD4): a command, or the argument one expects.
    Mouse,
}

/// The controller, its keyboard and ports 0x92/0x80.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct I8042 {
    /// Bytes waiting to be read from port 0x60, each marked `true` when it comes from the
    /// auxiliary device.
    pub out: VecDeque<(u8, bool)>,
    /// Controller command byte (bit 0: keyboard interrupt, bit 4: keyboard disabled, bit 6:
    /// translation).
    pub command_byte: u8,
    /// Output port (bit 0: not reset, bit 1: A20).
    pub output_port: u8,
    /// The last write went to the command port.
    pub last_was_command: bool,
    /// Meaning of the next data-port write.
    pub target: DataTarget,
    /// Keyboard scanning enabled.
    pub scanning: bool,
    /// Port 0x92 value (bit 1: A20, bit 0: reset pulse).
    pub port92: u8,
    /// Last POST code written to port 0x80.
    pub post_code: u8,
    /// The guest asked for a CPU reset.
    pub reset_requested: bool,
    /// The mouse expects the argument of its last command (sample rate, resolution).
    pub mouse_argument: bool,
}

impl Default for I8042 {
    fn default() -> Self {
        Self {
            out: VecDeque::new(),
            command_byte: 0x45, // keyboard interrupt, system flag, translation
            output_port: 0x03,  // not in reset, A20 on
            last_was_command: false,
            target: DataTarget::Keyboard,
            scanning: true,
            port92: 0,
            post_code: 0,
            reset_requested: false,
            mouse_argument: false,
        }
    }
}

impl I8042 {
    /// A controller whose output port starts with the A20 gate `a20` (the machine's
    /// configured A20 state at power-on).
    pub fn new(a20: bool) -> Self {
        let mut k = Self::default();
        if !a20 {
            k.output_port &= !2;
        }
        k
    }

    /// The A20 gate: enabled through the output port or port 0x92.
    pub fn a20(&self) -> bool {
        self.output_port & 2 != 0 || self.port92 & 2 != 0
    }

    /// The keyboard interrupt line (IRQ 1): a keyboard byte waits and the interrupt is
    /// enabled (command byte bit 0).
    pub fn irq1(&self) -> bool {
        matches!(self.out.front(), Some((_, false))) && self.command_byte & 1 != 0
    }

    /// The auxiliary interrupt line (IRQ 12): a mouse byte waits and the interrupt is enabled
    /// (command byte bit 1).
    pub fn irq12(&self) -> bool {
        matches!(self.out.front(), Some((_, true))) && self.command_byte & 2 != 0
    }

    fn status(&self) -> u8 {
        let head = match self.out.front() {
            None => 0,
            Some((_, false)) => st::OBF,
            Some((_, true)) => st::OBF | st::AUX,
        };
        head | st::SYS | st::UNLOCKED | if self.last_was_command { st::CMD } else { 0 }
    }

    fn reply(&mut self, bytes: &[u8]) {
        self.out.extend(bytes.iter().map(|&b| (b, false)));
    }

    fn mouse_reply(&mut self, bytes: &[u8]) {
        self.out.extend(bytes.iter().map(|&b| (b, true)));
    }

    /// Port read.
    pub fn io_read(&mut self, port: u16) -> u8 {
        match port {
            0x60 => self.out.pop_front().map_or(0, |(b, _)| b),
            0x64 => self.status(),
            0x92 => self.port92,
            0x80 => self.post_code,
            _ => 0xFF,
        }
    }

    /// Port write.
    pub fn io_write(&mut self, port: u16, v: u8) {
        match port {
            0x64 => {
                self.last_was_command = true;
                self.command(v);
            }
            0x60 => {
                self.last_was_command = false;
                self.data(v);
            }
            0x92 => {
                if v & 1 != 0 && self.port92 & 1 == 0 {
                    self.reset_requested = true;
                }
                self.port92 = v & 3;
            }
            0x80 => self.post_code = v,
            _ => {}
        }
    }

    fn command(&mut self, c: u8) {
        match c {
            0x20 => self.reply(&[self.command_byte]),
            0x60 => self.target = DataTarget::CommandByte,
            0xA7 => self.command_byte |= 0x20,  // aux disable
            0xA8 => self.command_byte &= !0x20, // aux enable
            0xA9 => self.reply(&[0x00]),        // aux interface test passed
            0xAA => {
                self.reply(&[0x55]); // self-test passed
                self.command_byte |= 0x04;
            }
            0xAB => self.reply(&[0x00]), // keyboard interface test passed
            0xAD => self.command_byte |= 0x10,
            0xAE => self.command_byte &= !0x10,
            0xC0 => self.reply(&[0x80]), // input port: keyboard not inhibited
            0xD0 => self.reply(&[self.output_port]),
            0xD1 => self.target = DataTarget::OutputPort,
            0xD2 => self.target = DataTarget::KeyboardOutput,
            0xD3 => self.target = DataTarget::AuxOutput,
            0xD4 => self.target = DataTarget::Mouse,
            0xDD => self.output_port &= !2, // A20 off (some controllers)
            0xDF => self.output_port |= 2,  // A20 on
            0xF0..=0xFF => {
                // pulse output lines low: bit 0 is the reset line
                if c & 1 == 0 {
                    self.reset_requested = true;
                }
            }
            _ => {}
        }
    }

    fn data(&mut self, v: u8) {
        let target = std::mem::take(&mut self.target);
        match target {
            DataTarget::CommandByte => self.command_byte = v,
            DataTarget::OutputPort => {
                if v & 1 == 0 {
                    self.reset_requested = true;
                }
                self.output_port = v | 1;
            }
            DataTarget::KeyboardOutput => self.reply(&[v]),
            DataTarget::AuxOutput => self.mouse_reply(&[v]),
            DataTarget::KeyboardArgument => self.reply(&[0xFA]),
            DataTarget::Mouse if std::mem::take(&mut self.mouse_argument) => {
                self.mouse_reply(&[0xFA])
            }
            DataTarget::Mouse => self.mouse(v),
            DataTarget::Keyboard => self.keyboard(v),
        }
    }

    /// A command to the PS/2 mouse (after 0xD4); it acknowledges with 0xFA. The mouse is a
    /// standard 3-button one (ID 0) in stream mode that never moves.
    fn mouse(&mut self, c: u8) {
        match c {
            0xFF => self.mouse_reply(&[0xFA, 0xAA, 0x00]), // reset: ACK, BAT passed, ID
            0xF2 => self.mouse_reply(&[0xFA, 0x00]),       // identify: standard mouse
            0xE9 => self.mouse_reply(&[0xFA, 0x00, 0x02, 0x64]), // status: 4 counts/mm, 100/s
            0xEB => self.mouse_reply(&[0xFA, 0x08, 0x00, 0x00]), // read data: no motion
            0xF3 | 0xE8 => {
                self.mouse_reply(&[0xFA]);
                self.mouse_argument = true;
            }
            0xE6 | 0xE7 | 0xEA | 0xF0 | 0xF4 | 0xF5 | 0xF6 | 0xEC | 0xEE => {
                self.mouse_reply(&[0xFA])
            }
            _ => self.mouse_reply(&[0xFE]), // resend: not a command this mouse knows
        }
    }

    /// A command to the keyboard; the keyboard acknowledges with 0xFA.
    fn keyboard(&mut self, c: u8) {
        match c {
            0xFF => {
                self.reply(&[0xFA, 0xAA]); // reset: ACK, then BAT passed
                self.scanning = true;
            }
            0xF2 => self.reply(&[0xFA, 0xAB, 0x83]), // identify: MF2 keyboard
            0xEE => self.reply(&[0xEE]),             // echo
            0xF4 => {
                self.scanning = true;
                self.reply(&[0xFA]);
            }
            0xF5 => {
                self.scanning = false;
                self.reply(&[0xFA]);
            }
            0xED | 0xF0 | 0xF3 => {
                self.reply(&[0xFA]);
                self.target = DataTarget::KeyboardArgument;
            }
            _ => self.reply(&[0xFA]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_test_and_command_byte() {
        let mut k = I8042::default();
        k.io_write(0x64, 0xAA);
        assert_eq!(k.io_read(0x64) & 1, 1, "output buffer full");
        assert_eq!(k.io_read(0x60), 0x55);
        k.io_write(0x64, 0x60);
        k.io_write(0x60, 0x47);
        k.io_write(0x64, 0x20);
        assert_eq!(k.io_read(0x60), 0x47);
        k.io_write(0x64, 0xA9);
        assert_eq!(k.io_read(0x60), 0x00, "auxiliary interface test passed");
    }

    #[test]
    fn aux_loopback_and_mouse() {
        let mut k = I8042::default();
        k.io_write(0x64, 0x60);
        k.io_write(0x60, 0x47); // keyboard and aux interrupts enabled
        k.io_write(0x64, 0xD3);
        k.io_write(0x60, 0x5A);
        assert_eq!(k.io_read(0x64) & 0x21, 0x21, "full, from the aux device");
        assert!(k.irq12() && !k.irq1());
        assert_eq!(k.io_read(0x60), 0x5A);
        k.io_write(0x64, 0xD4);
        k.io_write(0x60, 0xFF);
        let reset: Vec<u8> = (0..3).map(|_| k.io_read(0x60)).collect();
        assert_eq!(reset, [0xFA, 0xAA, 0x00]);
        k.io_write(0x64, 0xD4);
        k.io_write(0x60, 0xF3);
        k.io_write(0x64, 0xD4);
        k.io_write(0x60, 200);
        assert_eq!([k.io_read(0x60), k.io_read(0x60)], [0xFA, 0xFA]);
        assert!(!k.irq12(), "nothing left");
    }

    #[test]
    fn keyboard_identify_and_leds() {
        let mut k = I8042::default();
        k.io_write(0x60, 0xF2);
        assert_eq!(
            [k.io_read(0x60), k.io_read(0x60), k.io_read(0x60)],
            [0xFA, 0xAB, 0x83]
        );
        k.io_write(0x60, 0xED);
        k.io_write(0x60, 0x07);
        assert_eq!([k.io_read(0x60), k.io_read(0x60)], [0xFA, 0xFA]);
        assert!(!k.irq1(), "nothing left to read");
    }

    #[test]
    fn a20_and_reset_lines() {
        let mut k = I8042::default();
        k.io_write(0x64, 0xD1);
        k.io_write(0x60, 0xDD); // output port with A20 (bit 1) clear, not reset
        assert!(!k.a20());
        k.io_write(0x92, 0x02); // fast A20
        assert!(k.a20());
        k.io_write(0x92, 0x00);
        assert!(!k.a20());
        assert!(!k.reset_requested);
        k.io_write(0x64, 0xFE);
        assert!(k.reset_requested);
    }
}
