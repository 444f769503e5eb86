//! A small DEFLATE (RFC 1951) and gzip (RFC 1952) decoder for the bundled `.gz` datasets.
//!
//! It handles all three block types (stored, fixed Huffman, dynamic Huffman), checks every
//! length, distance and code that the stream declares, and for gzip verifies the header, the
//! optional header CRC-16, the trailer's CRC-32 and ISIZE, and accepts several concatenated
//! members. Anything malformed or truncated is reported as [`Error::Format`]; nothing panics.
//!
//! Huffman codes are decoded canonically one bit at a time (after Mark Adler's `puff.c`): slow
//! next to zlib, but a few lines long and ample for a few hundred kilobytes.
//!
//! ```
//! use mgs::data::inflate::{crc32, gunzip};
//! // `printf 'hello\n' | gzip -n` (no file name, no time stamp).
//! let gz = [
//!     0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xcb, 0x48, 0xcd, 0xc9, 0xc9,
//!     0xe7, 0x02, 0x00, 0x20, 0x30, 0x3a, 0x36, 0x06, 0x00, 0x00, 0x00,
//! ];
//! assert_eq!(gunzip(&gz)?, b"hello\n");
//! assert_eq!(crc32(b"hello\n"), 0x363a_3020);
//! // A single flipped byte is caught (here by the CRC-32 check or a bad code).
//! let mut bad = gz;
//! bad[12] ^= 0x10;
//! assert!(matches!(gunzip(&bad), Err(mgs::Error::Format { .. })));
//! # Ok::<(), mgs::Error>(())
//! ```

use crate::{Error, Result};

/// Longest Huffman code that DEFLATE allows.
const MAX_BITS: usize = 15;
/// Number of literal/length symbols (286 and 287 are reserved but take part in the fixed code).
const MAX_LCODES: usize = 288;
/// Number of distance symbols (30 and 31 are reserved but take part in the fixed code).
const MAX_DCODES: usize = 32;
/// Number of code-length symbols.
const MAX_CLCODES: usize = 19;
/// Largest distance a match may reach back.
const MAX_DIST: usize = 32_768;

/// Base lengths for length symbols 257..=285.
const LEN_BASE: [u16; 29] = [
    3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131,
    163, 195, 227, 258,
];
/// Extra bits for length symbols 257..=285.
const LEN_EXTRA: [u8; 29] = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];
/// Base distances for distance symbols 0..=29.
const DIST_BASE: [u16; 30] = [
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
    2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
];
/// Extra bits for distance symbols 0..=29.
const DIST_EXTRA: [u8; 30] = [
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13,
    13,
];
/// Order in which the code-length code lengths are transmitted.
const CL_ORDER: [usize; MAX_CLCODES] = [
    16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
];

fn format_err(reason: impl Into<String>) -> Error {
    Error::Format {
        reason: reason.into(),
    }
}

/// The CRC-32 table for the reflected polynomial `0xEDB88320`, built at compile time.
const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut n = 0;
    while n < 256 {
        let mut c = n as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[n] = c;
        n += 1;
    }
    table
};

/// Continues a CRC-32 (as used by gzip, zip and PNG) over `bytes`, starting from `crc`.
fn crc32_update(crc: u32, bytes: &[u8]) -> u32 {
    let mut c = !crc;
    for &b in bytes {
        c = CRC_TABLE[((c ^ b as u32) & 0xff) as usize] ^ (c >> 8);
    }
    !c
}

/// The CRC-32 (IEEE 802.3, reflected, as in gzip) of `bytes`.
pub fn crc32(bytes: &[u8]) -> u32 {
    crc32_update(0, bytes)
}

/// Reads bits least-significant first, as DEFLATE packs them.
struct BitReader<'a> {
    input: &'a [u8],
    /// Next byte to load into `buf`.
    pos: usize,
    /// Bits not yet consumed, in the low `count` bits.
    buf: u32,
    count: u32,
}

impl<'a> BitReader<'a> {
    fn new(input: &'a [u8]) -> Self {
        Self {
            input,
            pos: 0,
            buf: 0,
            count: 0,
        }
    }

    /// The next `need` (≤ 16) bits as an integer.
    fn bits(&mut self, need: u32) -> Result<u32> {
        debug_assert!(need <= 16);
        while self.count < need {
            let Some(&byte) = self.input.get(self.pos) else {
                return Err(format_err("deflate stream is truncated"));
            };
            self.pos += 1;
            self.buf |= (byte as u32) << self.count;
            self.count += 8;
        }
        let value = self.buf & ((1u32 << need) - 1);
        self.buf >>= need;
        self.count -= need;
        Ok(value)
    }

    /// Drops the bits left in the current byte.
    fn align_to_byte(&mut self) {
        // Whole unread bytes never sit in `buf`: `bits` loads at most what it needs, so fewer
        // than 8 bits remain after any read.
        self.buf = 0;
        self.count = 0;
    }

    /// Byte offset of the first byte not (even partly) consumed.
    fn byte_pos(&self) -> usize {
        self.pos
    }
}

/// A canonical Huffman code as counts per length and symbols sorted by code.
struct Huffman {
    count: [u16; MAX_BITS + 1],
    symbol: Vec<u16>,
}

/// Outcome of building a code from its lengths.
enum Completeness {
    Complete,
    /// Fewer codes than the lengths could hold (allowed only in narrow cases).
    Incomplete,
}

impl Huffman {
    /// Builds the canonical code for `lengths` (0 = symbol unused). Over-subscribed sets of
    /// lengths are an error; whether an incomplete code is acceptable is the caller's call.
    fn new(lengths: &[u8]) -> Result<(Self, Completeness)> {
        let mut count = [0u16; MAX_BITS + 1];
        for &len in lengths {
            count[len as usize] += 1;
        }
        let mut symbol = vec![0u16; lengths.len()];
        if count[0] as usize == lengths.len() {
            // No codes at all: complete only in the sense that nothing can be decoded.
            return Ok((Self { count, symbol }, Completeness::Incomplete));
        }
        // Check for an over-subscribed or incomplete set of lengths.
        let mut left: i32 = 1;
        for &c in &count[1..] {
            left <<= 1;
            left -= c as i32;
            if left < 0 {
                return Err(format_err("over-subscribed Huffman code"));
            }
        }
        // Offsets of the first symbol of each length in `symbol`.
        let mut offs = [0u16; MAX_BITS + 1];
        for len in 1..MAX_BITS {
            offs[len + 1] = offs[len] + count[len];
        }
        for (sym, &len) in lengths.iter().enumerate() {
            if len != 0 {
                symbol[offs[len as usize] as usize] = sym as u16;
                offs[len as usize] += 1;
            }
        }
        let completeness = if left > 0 {
            Completeness::Incomplete
        } else {
            Completeness::Complete
        };
        Ok((Self { count, symbol }, completeness))
    }

    /// Number of codes of length `len`.
    fn codes_of_length(&self, len: usize) -> usize {
        self.count[len] as usize
    }

    /// Decodes one symbol.
    fn decode(&self, reader: &mut BitReader<'_>) -> Result<u16> {
        let mut code: i32 = 0; // bits read so far, first bit most significant
        let mut first: i32 = 0; // first code of the current length
        let mut index: i32 = 0; // index in `symbol` of the first code of the current length
        for len in 1..=MAX_BITS {
            code |= reader.bits(1)? as i32;
            let count = self.count[len] as i32;
            if code - first < count {
                return Ok(self.symbol[(index + code - first) as usize]);
            }
            index += count;
            first += count;
            first <<= 1;
            code <<= 1;
        }
        Err(format_err("invalid Huffman code in deflate stream"))
    }
}

/// Decodes the literals and matches of one Huffman-coded block into `out`.
fn inflate_codes(
    reader: &mut BitReader<'_>,
    out: &mut Vec<u8>,
    lencode: &Huffman,
    distcode: &Huffman,
) -> Result<()> {
    loop {
        let symbol = lencode.decode(reader)? as usize;
        match symbol {
            0..=255 => out.push(symbol as u8),
            256 => return Ok(()),
            _ => {
                let s = symbol - 257;
                if s >= LEN_BASE.len() {
                    return Err(format_err(format!(
                        "invalid length symbol {symbol} in deflate stream"
                    )));
                }
                let len = LEN_BASE[s] as usize + reader.bits(LEN_EXTRA[s] as u32)? as usize;
                let dsym = distcode.decode(reader)? as usize;
                if dsym >= DIST_BASE.len() {
                    return Err(format_err(format!(
                        "invalid distance symbol {dsym} in deflate stream"
                    )));
                }
                let dist =
                    DIST_BASE[dsym] as usize + reader.bits(DIST_EXTRA[dsym] as u32)? as usize;
                if dist > out.len() || dist > MAX_DIST {
                    return Err(format_err(format!(
                        "distance {dist} reaches before the start of the output ({} bytes)",
                        out.len()
                    )));
                }
                // Byte by byte: the source may overlap the bytes being written.
                let start = out.len() - dist;
                for k in 0..len {
                    let byte = out[start + k];
                    out.push(byte);
                }
            }
        }
    }
}

/// Copies a stored (uncompressed) block.
fn inflate_stored(reader: &mut BitReader<'_>, out: &mut Vec<u8>) -> Result<()> {
    reader.align_to_byte();
    let pos = reader.byte_pos();
    let header = reader
        .input
        .get(pos..pos + 4)
        .ok_or_else(|| format_err("stored block header is truncated"))?;
    let len = u16::from_le_bytes([header[0], header[1]]);
    let nlen = u16::from_le_bytes([header[2], header[3]]);
    if len != !nlen {
        return Err(format_err(
            "stored block length does not match its one's complement",
        ));
    }
    let data = reader
        .input
        .get(pos + 4..pos + 4 + len as usize)
        .ok_or_else(|| format_err("stored block is truncated"))?;
    out.extend_from_slice(data);
    reader.pos = pos + 4 + len as usize;
    Ok(())
}

/// The fixed literal/length and distance codes of RFC 1951 §3.2.6.
fn fixed_codes() -> (Huffman, Huffman) {
    let mut lengths = [0u8; MAX_LCODES];
    lengths[..144].fill(8);
    lengths[144..256].fill(9);
    lengths[256..280].fill(7);
    lengths[280..].fill(8);
    // Both sets of lengths are valid constants, so construction cannot fail.
    let (lencode, _) = Huffman::new(&lengths).unwrap_or_else(|_| unreachable!());
    let (distcode, _) = Huffman::new(&[5u8; MAX_DCODES]).unwrap_or_else(|_| unreachable!());
    (lencode, distcode)
}

/// Reads the code descriptions of a dynamic block (RFC 1951 §3.2.7).
fn dynamic_codes(reader: &mut BitReader<'_>) -> Result<(Huffman, Huffman)> {
    let nlen = reader.bits(5)? as usize + 257;
    let ndist = reader.bits(5)? as usize + 1;
    let ncode = reader.bits(4)? as usize + 4;
    if nlen > 286 || ndist > 30 {
        return Err(format_err(format!(
            "dynamic block declares too many codes ({nlen} literal/length, {ndist} distance)"
        )));
    }
    let mut cl_lengths = [0u8; MAX_CLCODES];
    for &sym in &CL_ORDER[..ncode] {
        cl_lengths[sym] = reader.bits(3)? as u8;
    }
    let (clcode, complete) = Huffman::new(&cl_lengths)?;
    if !matches!(complete, Completeness::Complete) {
        return Err(format_err("incomplete code-length code in dynamic block"));
    }

    let mut lengths = [0u8; MAX_LCODES + MAX_DCODES];
    let total = nlen + ndist;
    let mut index = 0;
    while index < total {
        let symbol = clcode.decode(reader)?;
        let (value, repeat) = match symbol {
            0..=15 => {
                lengths[index] = symbol as u8;
                index += 1;
                continue;
            }
            16 => {
                if index == 0 {
                    return Err(format_err("repeat code with no previous length"));
                }
                (lengths[index - 1], 3 + reader.bits(2)? as usize)
            }
            17 => (0, 3 + reader.bits(3)? as usize),
            _ => (0, 11 + reader.bits(7)? as usize),
        };
        if index + repeat > total {
            return Err(format_err(
                "code lengths run past the declared number of codes",
            ));
        }
        lengths[index..index + repeat].fill(value);
        index += repeat;
    }
    if lengths[256] == 0 {
        return Err(format_err("dynamic block has no end-of-block code"));
    }

    // An incomplete code is acceptable only when it is a single code of length one.
    let single_code_ok = |h: &Huffman, n: usize| n == h.codes_of_length(0) + h.codes_of_length(1);
    let (lencode, complete) = Huffman::new(&lengths[..nlen])?;
    if matches!(complete, Completeness::Incomplete) && !single_code_ok(&lencode, nlen) {
        return Err(format_err(
            "incomplete literal/length code in dynamic block",
        ));
    }
    let (distcode, complete) = Huffman::new(&lengths[nlen..total])?;
    if matches!(complete, Completeness::Incomplete) && !single_code_ok(&distcode, ndist) {
        return Err(format_err("incomplete distance code in dynamic block"));
    }
    Ok((lencode, distcode))
}

/// Decodes one raw DEFLATE stream at the start of `input`; returns the bytes and how many input
/// bytes the stream occupied (up to the byte holding its last bit).
fn inflate_prefix(input: &[u8]) -> Result<(Vec<u8>, usize)> {
    let mut reader = BitReader::new(input);
    let mut out = Vec::with_capacity(input.len().saturating_mul(4));
    let mut fixed: Option<(Huffman, Huffman)> = None;
    loop {
        let last = reader.bits(1)? == 1;
        match reader.bits(2)? {
            0 => inflate_stored(&mut reader, &mut out)?,
            1 => {
                let (lencode, distcode) = fixed.get_or_insert_with(fixed_codes);
                inflate_codes(&mut reader, &mut out, lencode, distcode)?;
            }
            2 => {
                let (lencode, distcode) = dynamic_codes(&mut reader)?;
                inflate_codes(&mut reader, &mut out, &lencode, &distcode)?;
            }
            _ => return Err(format_err("invalid deflate block type 3")),
        }
        if last {
            break;
        }
    }
    Ok((out, reader.byte_pos()))
}

/// Decompresses a raw DEFLATE stream (RFC 1951, no zlib or gzip wrapper).
///
/// Bytes after the final block are an error.
pub fn inflate(input: &[u8]) -> Result<Vec<u8>> {
    let (out, used) = inflate_prefix(input)?;
    if used != input.len() {
        return Err(format_err(format!(
            "{} trailing bytes after the deflate stream",
            input.len() - used
        )));
    }
    Ok(out)
}

/// Skips a zero-terminated field of the gzip header starting at `pos`; returns the position
/// after the terminator.
fn skip_zero_terminated(input: &[u8], pos: usize, what: &str) -> Result<usize> {
    let rest = input
        .get(pos..)
        .ok_or_else(|| format_err(format!("gzip header is truncated in the {what}")))?;
    match rest.iter().position(|&b| b == 0) {
        Some(end) => Ok(pos + end + 1),
        None => Err(format_err(format!(
            "gzip header is truncated in the {what}"
        ))),
    }
}

/// Decodes one gzip member at the start of `input`, appending to `out`; returns the number of
/// input bytes it occupied.
fn gunzip_member(input: &[u8], out: &mut Vec<u8>) -> Result<usize> {
    const FTEXT: u8 = 1;
    const FHCRC: u8 = 2;
    const FEXTRA: u8 = 4;
    const FNAME: u8 = 8;
    const FCOMMENT: u8 = 16;
    if input.len() < 10 {
        return Err(format_err(format!(
            "gzip header is truncated ({} bytes, at least 10 needed)",
            input.len()
        )));
    }
    if input[0] != 0x1f || input[1] != 0x8b {
        return Err(format_err(format!(
            "not gzip data (magic bytes {:#04x} {:#04x}, expected 0x1f 0x8b)",
            input[0], input[1]
        )));
    }
    if input[2] != 8 {
        return Err(format_err(format!(
            "unsupported gzip compression method {} (only 8, deflate)",
            input[2]
        )));
    }
    let flags = input[3];
    if flags & !(FTEXT | FHCRC | FEXTRA | FNAME | FCOMMENT) != 0 {
        return Err(format_err(format!(
            "reserved gzip header flags set ({flags:#04x})"
        )));
    }
    let mut pos = 10;
    if flags & FEXTRA != 0 {
        let xlen = input
            .get(pos..pos + 2)
            .ok_or_else(|| format_err("gzip header is truncated in the extra field"))?;
        let xlen = u16::from_le_bytes([xlen[0], xlen[1]]) as usize;
        pos += 2 + xlen;
        if pos > input.len() {
            return Err(format_err("gzip header is truncated in the extra field"));
        }
    }
    if flags & FNAME != 0 {
        pos = skip_zero_terminated(input, pos, "file name")?;
    }
    if flags & FCOMMENT != 0 {
        pos = skip_zero_terminated(input, pos, "comment")?;
    }
    if flags & FHCRC != 0 {
        let stored = input
            .get(pos..pos + 2)
            .ok_or_else(|| format_err("gzip header is truncated in the header CRC"))?;
        let stored = u16::from_le_bytes([stored[0], stored[1]]);
        let actual = (crc32(&input[..pos]) & 0xffff) as u16;
        if stored != actual {
            return Err(format_err(format!(
                "gzip header CRC mismatch (stored {stored:#06x}, computed {actual:#06x})"
            )));
        }
        pos += 2;
    }

    let start = out.len();
    let (data, used) = inflate_prefix(&input[pos..])?;
    out.extend_from_slice(&data);
    pos += used;

    let trailer = input.get(pos..pos + 8).ok_or_else(|| {
        format_err(format!(
            "gzip trailer is truncated ({} of 8 bytes)",
            input.len().saturating_sub(pos)
        ))
    })?;
    let stored_crc = u32::from_le_bytes([trailer[0], trailer[1], trailer[2], trailer[3]]);
    let stored_size = u32::from_le_bytes([trailer[4], trailer[5], trailer[6], trailer[7]]);
    let actual_crc = crc32(&out[start..]);
    if stored_crc != actual_crc {
        return Err(format_err(format!(
            "gzip CRC-32 mismatch (stored {stored_crc:#010x}, computed {actual_crc:#010x})"
        )));
    }
    let actual_size = (out.len() - start) as u32; // ISIZE is the size modulo 2^32
    if stored_size != actual_size {
        return Err(format_err(format!(
            "gzip size mismatch (stored {stored_size}, decompressed {actual_size} mod 2^32)"
        )));
    }
    Ok(pos + 8)
}

/// Decompresses gzip data (RFC 1952): one member or several concatenated ones.
///
/// Checks the header (magic bytes, method 8, reserved flags, header CRC-16 when present) and
/// each member's CRC-32 and ISIZE. Empty input, bytes after the last member that do not form a
/// member, and any truncation or corruption are [`Error::Format`].
pub fn gunzip(input: &[u8]) -> Result<Vec<u8>> {
    if input.is_empty() {
        return Err(format_err("empty input is not gzip data"));
    }
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < input.len() {
        pos += gunzip_member(&input[pos..], &mut out)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn stored_block_round_trip() {
        // Final stored block holding "abc".
        let raw = [0x01, 0x03, 0x00, 0xfc, 0xff, b'a', b'b', b'c'];
        assert_eq!(inflate(&raw).unwrap(), b"abc");
        let mut bad = raw;
        bad[3] = 0;
        assert!(inflate(&bad).is_err());
        assert!(inflate(&raw[..6]).is_err());
    }

    #[test]
    fn fixed_block_with_overlapping_match() {
        // `printf 'aaaaaaaaaa' | gzip -n`'s deflate stream: a literal then a distance-1 match.
        let raw = [0x4b, 0x4c, 0x84, 0x01, 0x00];
        assert_eq!(inflate(&raw).unwrap(), b"aaaaaaaaaa");
    }

    #[test]
    fn block_type_three_is_rejected() {
        assert!(matches!(inflate(&[0x07]), Err(Error::Format { .. })));
    }
}
