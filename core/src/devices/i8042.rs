//! The 8042 keyboard controller of a PC/AT (IBM PC/AT Technical Reference, "Keyboard
//! controller"; command set as documented for PS/2 systems) at ports 0x60/0x64, with an
//! attached keyboard that answers the commands operating systems send while probing, plus
//! the "system control port A" at 0x92 (fast A20 gate and reset) and the POST-code port 0x80.
//!
//! The controller drives the A20 gate and the CPU reset line (output port bits 1 and 0, and
//! the pulse command 0xFE), so `a20` and `reset_requested` are read by the machine after every
//! access. There is no auxiliary (mouse) device: the interface test (0xA9) reports it absent.
//! Left out: key input from the host (arrives with the input queue), scancode translation
//! tables, the password and diagnostic commands.

use std::collections::VecDeque;

/// Status register bits.
mod st {
    pub const OBF: u8 = 0x01;
    pub const SYS: u8 = 0x04;
    pub const CMD: u8 = 0x08;
    pub const UNLOCKED: u8 = 0x10;
}

/// What a write to the data port (0x60) means next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
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
    /// A byte for the absent auxiliary device (after 0xD4): ignored.
    Aux,
}

/// The controller, its keyboard and ports 0x92/0x80.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct I8042 {
    /// Bytes waiting to be read from port 0x60.
    pub out: VecDeque<u8>,
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

    /// The keyboard interrupt line (IRQ 1): a byte waits and the interrupt is enabled.
    pub fn irq1(&self) -> bool {
        !self.out.is_empty() && self.command_byte & 1 != 0
    }

    fn status(&self) -> u8 {
        let obf = if self.out.is_empty() { 0 } else { st::OBF };
        obf | st::SYS | st::UNLOCKED | if self.last_was_command { st::CMD } else { 0 }
    }

    /// Port read.
    pub fn io_read(&mut self, port: u16) -> u8 {
        match port {
            0x60 => self.out.pop_front().unwrap_or(0),
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
            0x20 => self.out.push_back(self.command_byte),
            0x60 => self.target = DataTarget::CommandByte,
            0xA7 | 0xA8 => {}                 // aux disable/enable: no aux device
            0xA9 => self.out.push_back(0x01), // aux interface test: clock line stuck low (absent)
            0xAA => {
                self.out.push_back(0x55); // self-test passed
                self.command_byte |= 0x04;
            }
            0xAB => self.out.push_back(0x00), // keyboard interface test passed
            0xAD => self.command_byte |= 0x10,
            0xAE => self.command_byte &= !0x10,
            0xC0 => self.out.push_back(0x80), // input port: keyboard not inhibited
            0xD0 => self.out.push_back(self.output_port),
            0xD1 => self.target = DataTarget::OutputPort,
            0xD2 => self.target = DataTarget::KeyboardOutput,
            0xD3 | 0xD4 => self.target = DataTarget::Aux,
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
            DataTarget::KeyboardOutput => self.out.push_back(v),
            DataTarget::Aux => {}
            DataTarget::KeyboardArgument => self.out.push_back(0xFA),
            DataTarget::Keyboard => self.keyboard(v),
        }
    }

    /// A command to the keyboard; the keyboard acknowledges with 0xFA.
    fn keyboard(&mut self, c: u8) {
        match c {
            0xFF => {
                self.out.extend([0xFA, 0xAA]); // reset: ACK, then BAT passed
                self.scanning = true;
            }
            0xF2 => self.out.extend([0xFA, 0xAB, 0x83]), // identify: MF2 keyboard
            0xEE => self.out.push_back(0xEE),            // echo
            0xF4 => {
                self.scanning = true;
                self.out.push_back(0xFA);
            }
            0xF5 => {
                self.scanning = false;
                self.out.push_back(0xFA);
            }
            0xED | 0xF0 | 0xF3 => {
                self.out.push_back(0xFA);
                self.target = DataTarget::KeyboardArgument;
            }
            _ => self.out.push_back(0xFA),
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
        assert_eq!(k.io_read(0x60), 0x01, "no auxiliary device");
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
