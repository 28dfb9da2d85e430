//! Checked little-endian reading and writing.

use crate::error::{Result, WireError};

/// A bounds-checked reader over one message. Offsets are absolute within `buf`.
#[derive(Clone, Copy)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8], pos: usize) -> Self {
        Reader { buf, pos }
    }

    pub fn pos(&self) -> usize {
        self.pos
    }

    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        let end = end.ok_or(WireError::Truncated { at: self.pos, needed: n })?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    pub fn skip(&mut self, n: usize) -> Result<()> {
        self.bytes(n).map(|_| ())
    }

    pub fn u8(&mut self) -> Result<u8> {
        Ok(self.bytes(1)?[0])
    }

    pub fn u16(&mut self) -> Result<u16> {
        let b = self.bytes(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    pub fn u32(&mut self) -> Result<u32> {
        let b = self.bytes(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub fn u64(&mut self) -> Result<u64> {
        let b = self.bytes(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    pub fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let b = self.bytes(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(b);
        Ok(a)
    }

    /// Checks the StructureSize field that starts every SMB2 body.
    pub fn structure_size(&mut self, expected: u16) -> Result<()> {
        let found = self.u16()?;
        if found == expected { Ok(()) } else { Err(WireError::StructureSize { expected, found }) }
    }
}

/// The slice `msg[offset..offset+length]`, checked. A zero length is always valid.
pub fn slice_at(msg: &[u8], offset: usize, length: usize) -> Result<&[u8]> {
    if length == 0 {
        return Ok(&[]);
    }
    let end = offset.checked_add(length).filter(|&e| e <= msg.len());
    match end {
        Some(end) => Ok(&msg[offset..end]),
        None => Err(WireError::OutOfBounds { offset, length }),
    }
}

/// Decodes UTF-16LE into a String; odd lengths and unpaired surrogates are errors.
pub fn utf16le(bytes: &[u8]) -> Result<String> {
    if !bytes.len().is_multiple_of(2) {
        return Err(WireError::Invalid("odd UTF-16 length"));
    }
    let units = bytes.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]]));
    char::decode_utf16(units)
        .collect::<std::result::Result<String, _>>()
        .map_err(|_| WireError::Invalid("bad UTF-16"))
}

/// Little-endian writer helpers on a Vec.
pub trait Put {
    fn put_u8(&mut self, v: u8);
    fn put_u16(&mut self, v: u16);
    fn put_u32(&mut self, v: u32);
    fn put_u64(&mut self, v: u64);
    fn put_utf16(&mut self, s: &str);
    fn pad_to(&mut self, align: usize);
}

impl Put for Vec<u8> {
    fn put_u8(&mut self, v: u8) {
        self.push(v);
    }
    fn put_u16(&mut self, v: u16) {
        self.extend_from_slice(&v.to_le_bytes());
    }
    fn put_u32(&mut self, v: u32) {
        self.extend_from_slice(&v.to_le_bytes());
    }
    fn put_u64(&mut self, v: u64) {
        self.extend_from_slice(&v.to_le_bytes());
    }
    fn put_utf16(&mut self, s: &str) {
        for u in s.encode_utf16() {
            self.extend_from_slice(&u.to_le_bytes());
        }
    }
    fn pad_to(&mut self, align: usize) {
        while !self.len().is_multiple_of(align) {
            self.push(0);
        }
    }
}

/// Length of a string once encoded as UTF-16LE.
pub fn utf16_len(s: &str) -> usize {
    s.encode_utf16().count() * 2
}

/// Overwrites a little-endian u32 at `at` (used to back-patch offsets and lengths).
pub fn patch_u32(buf: &mut [u8], at: usize, v: u32) {
    if let Some(dst) = buf.get_mut(at..at + 4) {
        dst.copy_from_slice(&v.to_le_bytes());
    }
}

pub fn patch_u16(buf: &mut [u8], at: usize, v: u16) {
    if let Some(dst) = buf.get_mut(at..at + 2) {
        dst.copy_from_slice(&v.to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_checks_bounds() {
        let buf = [1u8, 2, 3];
        let mut r = Reader::new(&buf, 0);
        assert_eq!(r.u16().unwrap(), 0x0201);
        assert!(r.u16().is_err());
        assert_eq!(r.u8().unwrap(), 3);
        assert!(slice_at(&buf, 2, 2).is_err());
        assert!(slice_at(&buf, usize::MAX, 2).is_err());
        assert_eq!(slice_at(&buf, 99, 0).unwrap(), &[] as &[u8]);
    }

    #[test]
    fn utf16_round_trip() {
        let mut v = Vec::new();
        v.put_utf16("dir\\é");
        assert_eq!(utf16le(&v).unwrap(), "dir\\é");
        assert!(utf16le(&v[..3]).is_err());
        assert!(utf16le(&[0x00, 0xD8]).is_err());
    }
}
