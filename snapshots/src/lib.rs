//! `vx86-snapshots`: the snapshot container (magic, format version, config hash, sections,
//! checksum, RAM page encoding) and the replay-log format.
//!
//! Not implemented yet: this crate is filled by the determinism issue (#5). It exists now so the
//! workspace layout of DESIGN.md is in place; it exports nothing that could be mistaken for a
//! working snapshot format.
