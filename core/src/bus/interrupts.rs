//! Interrupt routing between the devices, the 8259A pair, the I/O APIC and the local APIC.
//!
//! Every ISA interrupt line goes to both the 8259A and the I/O APIC (IRQ 0 to pin 2, the
//! others to the pin of the same number), as on a PC board. The I/O APIC's messages reach the
//! local APIC when their destination names it. The CPU sees an interrupt when the local APIC
//! has a deliverable vector or, with the 8259A's INTR raised, when that reaches the CPU: directly
//! when the local APIC is globally disabled, else through LINT0 in ExtINT mode (SDM vol. 3A,
//! 11.5.1 and the MP specification's virtual-wire mode).

use super::Bus;
use crate::devices::ioapic::{Ioapic, Message};
use crate::devices::Device;
use crate::time::TimerId;

impl Bus {
    /// Drives ISA interrupt request line `irq` (0-15): the 8259A and the I/O APIC pin.
    pub fn set_irq(&mut self, irq: u8, level: bool) {
        if let Some(id) = self.pic {
            if let Device::Pic(p) = &mut self.devices[id.0 as usize] {
                p.set_irq(irq, level);
            }
        }
        if let Some(id) = self.ioapic {
            let mut out = Vec::new();
            if let Device::Ioapic(io) = &mut self.devices[id.0 as usize] {
                io.set_pin(Ioapic::pin_of_isa_irq(irq), level, &mut out);
            }
            self.deliver(&out);
        }
        self.update_intr();
    }

    /// Hands I/O APIC messages to the local APIC when it is their destination.
    fn deliver(&mut self, messages: &[Message]) {
        let Some(id) = self.lapic else { return };
        if let Device::Lapic(l) = &mut self.devices[id.0 as usize] {
            for m in messages {
                if l.is_destination(m.dest, m.logical) {
                    l.accept(m.vector, m.level);
                }
            }
        }
    }

    /// Recomputes [`Bus::intr`].
    pub(crate) fn update_intr(&mut self) {
        let pic = match self.pic.map(|id| &self.devices[id.0 as usize]) {
            Some(Device::Pic(p)) => p.intr(),
            _ => false,
        };
        self.intr = match self.lapic.map(|id| &self.devices[id.0 as usize]) {
            Some(Device::Lapic(l)) => l.deliverable().is_some() || (pic && l.passes_extint()),
            _ => pic,
        };
        if self.intr {
            self.block_end = 0;
        }
    }

    /// The interrupt-acknowledge cycle: the vector the local APIC or (through ExtINT) the
    /// 8259A supplies, when [`Bus::intr`] is set.
    pub fn acknowledge_interrupt(&mut self) -> Option<u8> {
        let mut passes_extint = true;
        if let Some(id) = self.lapic {
            if let Device::Lapic(l) = &mut self.devices[id.0 as usize] {
                if let Some(v) = l.acknowledge() {
                    self.update_intr();
                    return Some(v);
                }
                passes_extint = l.passes_extint();
            }
        }
        let id = self.pic.filter(|_| passes_extint)?;
        let v = match &mut self.devices[id.0 as usize] {
            Device::Pic(p) if p.intr() => p.acknowledge(),
            _ => return None,
        };
        self.update_intr();
        Some(v)
    }

    /// After a local APIC access: forward an EOI of a level-triggered vector to the I/O
    /// APIC, re-arm the APIC timer, recompute INTR.
    pub(super) fn lapic_update(&mut self, now: u64) {
        let Some(id) = self.lapic else { return };
        let (eoi, next) = match &mut self.devices[id.0 as usize] {
            Device::Lapic(l) => (l.eoi_broadcast.take(), l.next_timer(now)),
            _ => return,
        };
        match next {
            Some(t) => self.timers.set(TimerId::Lapic, t),
            None => self.timers.clear(TimerId::Lapic),
        }
        self.retime();
        if let (Some(v), Some(io)) = (eoi, self.ioapic) {
            let mut out = Vec::new();
            if let Device::Ioapic(i) = &mut self.devices[io.0 as usize] {
                i.eoi(v, &mut out);
            }
            self.deliver(&out);
        }
        self.update_intr();
    }

    /// After an I/O APIC access: deliver the messages its register writes produced.
    pub(super) fn ioapic_update(&mut self) {
        let Some(id) = self.ioapic else { return };
        let out = match &mut self.devices[id.0 as usize] {
            Device::Ioapic(i) => std::mem::take(&mut i.outbox),
            _ => return,
        };
        self.deliver(&out);
        self.update_intr();
    }

    /// The local APIC timer's deadline passed.
    pub(super) fn lapic_timer(&mut self, now: u64) {
        let Some(id) = self.lapic else { return };
        if let Device::Lapic(l) = &mut self.devices[id.0 as usize] {
            l.timer_expired(now);
        }
        self.lapic_update(now);
    }

    /// IA32_APIC_BASE, when the machine has a local APIC.
    pub fn apic_base_msr(&self) -> Option<u64> {
        match self.lapic.map(|id| &self.devices[id.0 as usize]) {
            Some(Device::Lapic(l)) => Some(l.base_msr),
            _ => None,
        }
    }

    /// Writes IA32_APIC_BASE (see [`crate::devices::lapic::Lapic::write_base_msr`]).
    pub fn write_apic_base_msr(&mut self, v: u64, now: u64) {
        let Some(id) = self.lapic else { return };
        if let Device::Lapic(l) = &mut self.devices[id.0 as usize] {
            l.write_base_msr(v);
        }
        self.lapic_update(now);
    }
}
