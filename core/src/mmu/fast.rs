//! The host fast path for data accesses (a cache of the host's, not architectural state): per
//! 4 KiB linear page, the RAM offset of its frame when the page is plain RAM, with one tag for
//! reads and one for writes, each at supervisor or user privilege. A hit skips the TLB
//! permission check, the A20 mask, the RAM-bounds and page-attribute checks and, for writes,
//! the self-modifying-code check; the dirty-page bitmap is still updated on every write.
//!
//! An entry never allows more than the slow path would:
//! - it is a subset of the MMU's TLB (or, with paging off, of the identity map): the MMU drops
//!   slot `i` whenever its own slot `i` changes and everything on a flush, so a snapshot (which
//!   saves the TLB but not this cache) never restores into a state that translates differently;
//! - it describes RAM at one memory epoch ([`crate::memory::GuestMemory::epoch`], which changes
//!   whenever a page gains an attribute that needs the slow path: MMIO, hole, ROM, decoded
//!   code; every memory value, a clone included, has its own) and one A20 mask; a mismatch of
//!   either empties the cache;
//! - a write entry is filled only after a write that passed the TLB's write check (so the leaf
//!   PTE's Dirty bit is set) to a page that is neither ROM nor code.

/// Entries: direct-mapped by linear page number, like the TLB (the same slot numbers).
pub(super) const FAST_SIZE: usize = 4096;
/// Tag bit: the entry is valid.
const VALID: u32 = 1;
/// Tag bit: the entry is for user-privilege (CPL 3) accesses.
const USER: u32 = 2;

#[derive(Debug, Clone, Copy, Default)]
struct Entry {
    /// Linear page | VALID | USER-or-not for reads; 0 when none.
    read: u32,
    /// The same for writes.
    write: u32,
    /// RAM offset of the page frame (after the A20 mask).
    frame: u32,
}

/// The fast-path cache. A clone starts empty (it is rebuilt on demand).
#[derive(Debug, Default)]
pub(crate) struct FastTlb {
    /// Empty until the first fill.
    entries: Vec<Entry>,
    /// Memory epoch and A20 mask the entries were filled under.
    epoch: u64,
    a20: u32,
}

impl Clone for FastTlb {
    fn clone(&self) -> Self {
        Self::default()
    }
}

#[inline(always)]
fn tag(lin: u32, user: bool) -> u32 {
    (lin & !0xFFF) | VALID | if user { USER } else { 0 }
}

#[inline(always)]
fn slot(lin: u32) -> usize {
    (lin >> 12) as usize & (FAST_SIZE - 1)
}

impl FastTlb {
    /// The RAM offset of `lin` for a read (`WRITE` false) or write at the given privilege, if
    /// cached for memory epoch `epoch` and A20 mask `a20`.
    #[inline(always)]
    pub(crate) fn lookup<const WRITE: bool>(
        &self,
        lin: u32,
        user: bool,
        epoch: u64,
        a20: u32,
    ) -> Option<u32> {
        let e = self.entries.get(slot(lin))?;
        let t = if WRITE { e.write } else { e.read };
        (t == tag(lin, user) && self.epoch == epoch && self.a20 == a20)
            .then_some(e.frame | (lin & 0xFFF))
    }

    /// Records that `lin`'s page is plain RAM at `frame` (page aligned, after A20) for reads
    /// or writes at the given privilege.
    pub(crate) fn fill(
        &mut self,
        lin: u32,
        frame: u32,
        user: bool,
        write: bool,
        epoch: u64,
        a20: u32,
    ) {
        if self.entries.is_empty() {
            self.entries = vec![Entry::default(); FAST_SIZE];
        } else if self.epoch != epoch || self.a20 != a20 {
            self.flush();
        }
        self.epoch = epoch;
        self.a20 = a20;
        let e = &mut self.entries[slot(lin)];
        let same_page = (e.read | e.write) & !0xFFF == lin & !0xFFF;
        if e.frame != frame || !same_page {
            *e = Entry::default();
        }
        e.frame = frame;
        if write {
            e.write = tag(lin, user);
        } else {
            e.read = tag(lin, user);
        }
    }

    /// Drops the entry in `lin`'s slot.
    #[inline]
    pub(crate) fn drop_slot(&mut self, lin: u32) {
        if let Some(e) = self.entries.get_mut(slot(lin)) {
            *e = Entry::default();
        }
    }

    /// Drops every entry.
    pub(crate) fn flush(&mut self) {
        self.entries.fill(Entry::default());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hits_only_for_the_same_page_privilege_kind_epoch_and_a20() {
        let mut f = FastTlb::default();
        assert_eq!(f.lookup::<false>(0x1234, false, 1, !0), None, "empty");
        f.fill(0x1234, 0x9000, false, false, 1, !0);
        assert_eq!(f.lookup::<false>(0x1FFF, false, 1, !0), Some(0x9FFF));
        assert_eq!(
            f.lookup::<true>(0x1234, false, 1, !0),
            None,
            "read entry only"
        );
        assert_eq!(
            f.lookup::<false>(0x1234, true, 1, !0),
            None,
            "supervisor entry only"
        );
        assert_eq!(f.lookup::<false>(0x1234, false, 2, !0), None, "other epoch");
        assert_eq!(
            f.lookup::<false>(0x1234, false, 1, !(1 << 20)),
            None,
            "other A20"
        );
        let alias = 0x1234 + (FAST_SIZE as u32) * 4096;
        assert_eq!(
            f.lookup::<false>(alias, false, 1, !0),
            None,
            "same slot, other page"
        );
        f.fill(0x1234, 0x9000, false, true, 1, !0);
        assert_eq!(f.lookup::<true>(0x1000, false, 1, !0), Some(0x9000));
        assert_eq!(
            f.lookup::<false>(0x1000, false, 1, !0),
            Some(0x9000),
            "read kept"
        );
    }

    #[test]
    fn refills_and_drops() {
        let mut f = FastTlb::default();
        f.fill(0x1000, 0x9000, false, true, 1, !0);
        // another page in the same slot replaces both tags
        let alias = 0x1000 + (FAST_SIZE as u32) * 4096;
        f.fill(alias, 0x5000, false, false, 1, !0);
        assert_eq!(f.lookup::<true>(0x1000, false, 1, !0), None);
        assert_eq!(f.lookup::<false>(alias, false, 1, !0), Some(0x5000));
        f.drop_slot(alias);
        assert_eq!(f.lookup::<false>(alias, false, 1, !0), None);
        // a fill under a new epoch empties the rest
        f.fill(0x3000, 0x3000, false, false, 1, !0);
        f.fill(0x4000, 0x4000, false, false, 2, !0);
        assert_eq!(f.lookup::<false>(0x3000, false, 2, !0), None);
        assert_eq!(f.lookup::<false>(0x4000, false, 2, !0), Some(0x4000));
        f.flush();
        assert_eq!(f.lookup::<false>(0x4000, false, 2, !0), None);
        assert_eq!(
            f.clone().lookup::<false>(0x4000, false, 2, !0),
            None,
            "clones start empty"
        );
    }
}
