//! LZ4 block compression (the LZ4 block format, `lz4_Block_format.md` of the LZ4 project),
//! written here so that the compressed bytes are the same on every host: lz4_flex's
//! compressor hashes machine words, so its 32-bit (wasm) and 64-bit (native) builds find
//! different matches, and a snapshot's bytes (and id) would depend on where it was taken.
//! Decompression is lz4_flex's (any valid block decompresses the same everywhere).
//!
//! A greedy single-pass compressor: a 4-byte hash of every position visited, the most recent
//! position per hash, matches extended forward only (8 bytes at a time), the search step growing on long runs
//! without matches (as LZ4's reference does). The format's end-of-block rules are kept: the
//! last match starts at least 12 bytes before the end and the last 5 bytes are literals.

const MIN_MATCH: usize = 4;
/// The last 5 bytes of a block are literals.
const LAST_LITERALS: usize = 5;
/// A match starts at least this many bytes before the end of the block.
const MF_LIMIT: usize = 12;
const MAX_OFFSET: usize = 65_535;
const HASH_BITS: u32 = 16;
/// Every 2^SKIP_TRIGGER positions without a match, the search step grows by one.
const SKIP_TRIGGER: u32 = 6;

fn read_u32(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

fn hash(v: u32) -> usize {
    (v.wrapping_mul(2_654_435_761) >> (32 - HASH_BITS)) as usize
}

/// Appends `n` in LZ4's length encoding (after a 15 in the token): 255s, then the rest.
fn push_length(out: &mut Vec<u8>, mut n: usize) {
    while n >= 255 {
        out.push(255);
        n -= 255;
    }
    out.push(n as u8);
}

/// Appends one sequence: `literals`, then (unless this is the last sequence) a match of
/// `len` bytes `offset` back.
fn push_sequence(out: &mut Vec<u8>, literals: &[u8], m: Option<(usize, usize)>) {
    let lit = literals.len();
    let ml = m.map_or(0, |(_, len)| len - MIN_MATCH);
    out.push(((lit.min(15) as u8) << 4) | ml.min(15) as u8);
    if lit >= 15 {
        push_length(out, lit - 15);
    }
    out.extend_from_slice(literals);
    if let Some((offset, _)) = m {
        out.extend_from_slice(&(offset as u16).to_le_bytes());
        if ml >= 15 {
            push_length(out, ml - 15);
        }
    }
}

/// How many bytes from `a` and `b` on are equal, at most `max` (8 at a time).
fn common_length(input: &[u8], a: usize, b: usize, max: usize) -> usize {
    let mut n = 0;
    while n + 8 <= max {
        let x = u64::from_le_bytes(input[a + n..a + n + 8].try_into().expect("8 bytes"));
        let y = u64::from_le_bytes(input[b + n..b + n + 8].try_into().expect("8 bytes"));
        let diff = x ^ y;
        if diff != 0 {
            return n + (diff.trailing_zeros() / 8) as usize;
        }
        n += 8;
    }
    while n < max && input[a + n] == input[b + n] {
        n += 1;
    }
    n
}

/// `input` as one LZ4 block.
pub fn compress(input: &[u8]) -> Vec<u8> {
    let n = input.len();
    let mut out = Vec::with_capacity(n / 2 + 16);
    // the most recent position per hash, modulo 2^32: a candidate is only a guess, checked
    // against the bytes, so a stale or wrapped entry can only miss a match, never make a
    // wrong one
    let mut table = vec![0u32; 1 << HASH_BITS];
    let (mut anchor, mut i, mut misses) = (0usize, 0usize, 0u32);
    while i + MF_LIMIT < n {
        let v = read_u32(input, i);
        let h = hash(v);
        let offset = (i as u32).wrapping_sub(table[h]) as usize;
        table[h] = i as u32;
        if (1..=MAX_OFFSET.min(i)).contains(&offset) && read_u32(input, i - offset) == v {
            let c = i - offset;
            let max = n - LAST_LITERALS - i;
            let len =
                MIN_MATCH + common_length(input, c + MIN_MATCH, i + MIN_MATCH, max - MIN_MATCH);
            push_sequence(&mut out, &input[anchor..i], Some((offset, len)));
            i += len;
            anchor = i;
            misses = 0;
            continue;
        }
        misses += 1;
        i += 1 + (misses >> SKIP_TRIGGER) as usize;
    }
    push_sequence(&mut out, &input[anchor..], None);
    out
}

#[cfg(test)]
mod tests {
    use super::compress;

    fn round_trip(data: &[u8]) {
        let c = compress(data);
        let d = lz4_flex::block::decompress(&c, data.len()).expect("a valid block");
        assert_eq!(d, data, "{} bytes", data.len());
    }

    #[test]
    fn every_small_length_and_the_end_of_block_rules() {
        for n in 0..200 {
            round_trip(&vec![0u8; n]);
            round_trip(&(0..n).map(|i| (i % 7) as u8).collect::<Vec<_>>());
            round_trip(&(0..n).map(|i| (i * 131 % 251) as u8).collect::<Vec<_>>());
        }
    }

    #[test]
    fn long_runs_long_literals_and_far_offsets() {
        let mut data = vec![0u8; 300_000]; // match lengths far above 15 + 255
        let mut x = 0x1234_5678u32;
        for b in data.iter_mut().skip(1000).take(70_000) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            *b = x as u8; // a literal run far above 15 + 255
        }
        let block: Vec<u8> = data[1000..1100].to_vec();
        data[250_000..250_100].copy_from_slice(&block); // too far back to match
        data[80_000..80_100].copy_from_slice(&block); // within 64 KiB of its source
        round_trip(&data);
        assert!(compress(&data).len() < 80_000);
    }

    #[test]
    fn random_inputs() {
        let mut x = 99u64;
        for _ in 0..300 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let n = (x >> 40) as usize % 5000;
            let alphabet = 1 + (x >> 20) as u8 % 8; // from highly repetitive to noise-like
            let data: Vec<u8> = (0..n)
                .map(|i| {
                    let y = (x ^ (i as u64).wrapping_mul(0x9E37_79B9)).rotate_left(7);
                    ((y >> 56) as u8 % alphabet.max(1)).wrapping_mul(37)
                })
                .collect();
            round_trip(&data);
        }
    }

    #[test]
    fn the_output_is_pinned() {
        // derived by hand from the format (the snapshot bytes depend on this being the same
        // everywhere): "vx86 " as 5 literals, then a match 5 back of 15 bytes ("vx86 " × 3,
        // overlapping its source): token 0x5B (5 literals, 15 - 4 = 11), offset 05 00. The
        // second "determinism" starts at 32 = 44 - 12, too close to the end for a match, so
        // the rest is the last literals: 24 bytes, token 0xF0 plus length byte 24 - 15 = 9.
        let data = b"vx86 vx86 vx86 vx86 determinism determinism!";
        let mut want = vec![0x5B];
        want.extend_from_slice(b"vx86 ");
        want.extend_from_slice(&[0x05, 0x00, 0xF0, 0x09]);
        want.extend_from_slice(b"determinism determinism!");
        assert_eq!(compress(data), want);
    }
}
