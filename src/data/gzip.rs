//! gzip (RFC 1952) decompression with a bound on the output, for the bundled `.gz` datasets and
//! gzip-compressed CSV files.
//!
//! The DEFLATE data (RFC 1951) are decoded by the `flate2` crate on its pure-Rust `miniz_oxide`
//! backend; this module reads the gzip framing around them so that every failure says what is
//! wrong: the header (magic bytes, method 8, reserved flags, the optional header CRC-16), the
//! compressed data (corrupt or truncated, with the byte offset), and each member's trailer
//! (CRC-32 and ISIZE, with the stored and computed values). Several concatenated members are
//! read as one stream, as `gzip -d` does. All of these are [`Error::Format`].
//!
//! Decompression stops with [`Error::TooLarge`] as soon as the output would exceed a limit
//! ([`DEFAULT_MAX_OUTPUT`], 256 MiB, unless the caller passes another one to
//! [`gunzip_with_limit`]), so a small "zip bomb" cannot make it allocate gigabytes.
//!
//! ```
//! use mgs::Error;
//! use mgs::data::gzip::{gunzip, gunzip_with_limit};
//! // `printf 'hello\n' | gzip -n` (no file name, no time stamp).
//! let gz = [
//!     0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xcb, 0x48, 0xcd, 0xc9, 0xc9,
//!     0xe7, 0x02, 0x00, 0x20, 0x30, 0x3a, 0x36, 0x06, 0x00, 0x00, 0x00,
//! ];
//! assert_eq!(gunzip(&gz)?, b"hello\n");
//! // Six bytes of output do not fit a limit of five.
//! assert!(matches!(gunzip_with_limit(&gz, 5), Err(Error::TooLarge { limit: 5, .. })));
//! // A flipped bit in the data is caught (here by the CRC-32 in the trailer).
//! let mut bad = gz;
//! bad[12] ^= 0x10;
//! assert!(matches!(gunzip(&bad), Err(Error::Format { .. })));
//! # Ok::<(), mgs::Error>(())
//! ```

use flate2::{Crc, Decompress, FlushDecompress, Status};

use crate::{Error, Result};

/// The default bound on the decompressed size: 256 MiB.
pub const DEFAULT_MAX_OUTPUT: usize = 256 << 20;

/// Bytes decompressed per call into the DEFLATE decoder.
const CHUNK: usize = 32 << 10;

fn format_err(reason: impl Into<String>) -> Error {
    Error::Format {
        reason: reason.into(),
    }
}

/// The CRC-32 of `bytes` (the one gzip uses: reflected polynomial `0xEDB88320`).
pub(crate) fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = Crc::new();
    crc.update(bytes);
    crc.sum()
}

/// Decompresses gzip data (one member or several concatenated ones) of at most
/// [`DEFAULT_MAX_OUTPUT`] bytes.
///
/// Errors as [`gunzip_with_limit`].
pub fn gunzip(input: &[u8]) -> Result<Vec<u8>> {
    gunzip_with_limit(input, DEFAULT_MAX_OUTPUT)
}

/// Decompresses gzip data (one member or several concatenated ones) of at most `max_output`
/// bytes.
///
/// The output buffer never grows beyond `max_output` bytes, and decoding stops within one
/// 32 KiB chunk of the limit.
///
/// Errors: [`Error::TooLarge`] as soon as the output would exceed `max_output` bytes;
/// [`Error::Format`] for empty input, a header that is not
/// gzip or uses a reserved flag or another method than deflate, a header CRC-16 mismatch,
/// corrupt or truncated compressed data, a truncated trailer, a CRC-32 or ISIZE mismatch, and
/// bytes after the last member that do not form another member.
pub fn gunzip_with_limit(input: &[u8], max_output: usize) -> Result<Vec<u8>> {
    if input.is_empty() {
        return Err(format_err("empty input is not gzip data"));
    }
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < input.len() {
        pos += gunzip_member(&input[pos..], &mut out, max_output).map_err(|e| match e {
            Error::Format { reason } => format_err(format!(
                "{reason} (in the gzip member starting at byte {pos})"
            )),
            other => other,
        })?;
    }
    Ok(out)
}

/// Skips a zero-terminated field of the gzip header starting at `pos`; returns the position
/// after the terminator.
fn skip_zero_terminated(member: &[u8], pos: usize, what: &str) -> Result<usize> {
    let truncated = || format_err(format!("gzip header is truncated in the {what}"));
    let rest = member.get(pos..).ok_or_else(truncated)?;
    let end = rest.iter().position(|&b| b == 0).ok_or_else(truncated)?;
    Ok(pos + end + 1)
}

/// The length of the header of the gzip member that starts `member`, checked.
fn header_len(member: &[u8]) -> Result<usize> {
    const FTEXT: u8 = 1;
    const FHCRC: u8 = 2;
    const FEXTRA: u8 = 4;
    const FNAME: u8 = 8;
    const FCOMMENT: u8 = 16;
    if member.len() < 10 {
        return Err(format_err(format!(
            "gzip header is truncated ({} bytes, at least 10 needed)",
            member.len()
        )));
    }
    if member[0] != 0x1f || member[1] != 0x8b {
        return Err(format_err(format!(
            "not gzip data (magic bytes {:#04x} {:#04x}, expected 0x1f 0x8b)",
            member[0], member[1]
        )));
    }
    if member[2] != 8 {
        return Err(format_err(format!(
            "unsupported gzip compression method {} (only 8, deflate)",
            member[2]
        )));
    }
    let flags = member[3];
    if flags & !(FTEXT | FHCRC | FEXTRA | FNAME | FCOMMENT) != 0 {
        return Err(format_err(format!(
            "reserved gzip header flags set ({flags:#04x})"
        )));
    }
    let mut pos = 10;
    if flags & FEXTRA != 0 {
        let extra_truncated = || format_err("gzip header is truncated in the extra field");
        let xlen = member.get(pos..pos + 2).ok_or_else(extra_truncated)?;
        pos += 2 + usize::from(u16::from_le_bytes([xlen[0], xlen[1]]));
        if pos > member.len() {
            return Err(extra_truncated());
        }
    }
    if flags & FNAME != 0 {
        pos = skip_zero_terminated(member, pos, "file name")?;
    }
    if flags & FCOMMENT != 0 {
        pos = skip_zero_terminated(member, pos, "comment")?;
    }
    if flags & FHCRC != 0 {
        let stored = member
            .get(pos..pos + 2)
            .ok_or_else(|| format_err("gzip header is truncated in the header CRC"))?;
        let stored = u16::from_le_bytes([stored[0], stored[1]]);
        let actual = (crc32(&member[..pos]) & 0xffff) as u16;
        if stored != actual {
            return Err(format_err(format!(
                "gzip header CRC mismatch (stored {stored:#06x}, computed {actual:#06x})"
            )));
        }
        pos += 2;
    }
    Ok(pos)
}

/// Decodes the gzip member at the start of `member`, appending to `out` (which may not grow
/// beyond `max_output` bytes); returns the number of input bytes the member occupied.
fn gunzip_member(member: &[u8], out: &mut Vec<u8>, max_output: usize) -> Result<usize> {
    let data_start = header_len(member)?;
    let data = &member[data_start..];

    let mut inflater = Decompress::new(false);
    let mut crc = Crc::new();
    let mut chunk = vec![0u8; CHUNK];
    loop {
        let consumed = inflater.total_in() as usize;
        let before_out = inflater.total_out();
        let status = inflater
            .decompress(&data[consumed..], &mut chunk, FlushDecompress::None)
            .map_err(|e| {
                format_err(format!(
                    "corrupt deflate data at or after byte {} of the member: {e}",
                    data_start + consumed
                ))
            })?;
        let produced = (inflater.total_out() - before_out) as usize;
        if produced > max_output - out.len() {
            return Err(Error::TooLarge {
                what: "decompressed gzip data".into(),
                bytes: max_output as u128 + 1,
                limit: max_output as u128,
            });
        }
        crc.update(&chunk[..produced]);
        let needed = out.len() + produced;
        if needed > out.capacity() {
            // Double as `Vec` would, but never beyond the limit.
            let target = out.capacity().saturating_mul(2).clamp(needed, max_output);
            out.reserve_exact(target - out.len());
        }
        out.extend_from_slice(&chunk[..produced]);
        if status == Status::StreamEnd {
            break;
        }
        if produced == 0 && inflater.total_in() as usize == consumed {
            return Err(format_err(if consumed == data.len() {
                format!(
                    "gzip data are truncated: the deflate stream ends after {} compressed \
                     bytes without its final block",
                    data.len()
                )
            } else {
                format!(
                    "corrupt deflate data: no progress at byte {} of the member",
                    data_start + consumed
                )
            }));
        }
    }

    let trailer_start = data_start + inflater.total_in() as usize;
    let trailer = member
        .get(trailer_start..trailer_start + 8)
        .ok_or_else(|| {
            format_err(format!(
                "gzip trailer is truncated ({} of 8 bytes)",
                member.len() - trailer_start
            ))
        })?;
    let stored_crc = u32::from_le_bytes([trailer[0], trailer[1], trailer[2], trailer[3]]);
    let stored_size = u32::from_le_bytes([trailer[4], trailer[5], trailer[6], trailer[7]]);
    if stored_crc != crc.sum() {
        return Err(format_err(format!(
            "gzip CRC-32 mismatch (stored {stored_crc:#010x}, computed {:#010x})",
            crc.sum()
        )));
    }
    // ISIZE is the size modulo 2^32, which is what `Crc::amount` counts.
    if stored_size != crc.amount() {
        return Err(format_err(format!(
            "gzip size mismatch (stored {stored_size}, decompressed {} mod 2^32)",
            crc.amount()
        )));
    }
    Ok(trailer_start + 8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }
}
