//! NDR20 (C706 chapter 14, little-endian, ASCII, IEEE floats as the PDU's data
//! representation says; MS-RPCE 2.2.5 for Windows' extensions).
//!
//! The reader checks every length, count and offset against the bytes left before it
//! reads or allocates, so a malformed stub ends in [`NdrError`] (answered with the fault
//! nca_s_fault_ndr), never a panic or an allocation larger than the input. Alignment is
//! relative to the start of the stub, which the PDU codec hands over as its own slice.

/// Why a stub could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NdrError {
    #[error("stub data ends early")]
    Short,
    #[error("array or string bounds are inconsistent")]
    Bounds,
    #[error("a value is outside its range")]
    Range,
    #[error("a union discriminant names no arm")]
    Tag,
}

pub type Result<T> = std::result::Result<T, NdrError>;

/// Elements any one conformant array may hold, whatever the input length allows
/// (names and SIDs in one lookup, MS-LSAT caps those at 20480; shares listed).
pub const MAX_ELEMENTS: u32 = 20480;

pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// C706 14.2.2: a primitive of size n starts at a multiple of n.
    pub fn align(&mut self, n: usize) -> Result<()> {
        let pad = (n - self.pos % n) % n;
        self.take(pad).map(|_| ())
    }

    pub fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).ok_or(NdrError::Short)?;
        let s = self.buf.get(self.pos..end).ok_or(NdrError::Short)?;
        self.pos = end;
        Ok(s)
    }

    pub fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    pub fn u16(&mut self) -> Result<u16> {
        self.align(2)?;
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    pub fn u32(&mut self) -> Result<u32> {
        self.align(4)?;
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// An NDR enum: 16 bits on the wire (C706 14.2.5), values above 0x7FFF invalid.
    pub fn enum16(&mut self) -> Result<u16> {
        let v = self.u16()?;
        if v > 0x7FFF { Err(NdrError::Range) } else { Ok(v) }
    }

    /// The referent id of a unique or full pointer (C706 14.3.10, 14.3.11): `None` for
    /// a null pointer. A full pointer naming an earlier referent is decoded again by the
    /// caller, which is equivalent for the read-only values these interfaces carry.
    pub fn pointer(&mut self) -> Result<Option<u32>> {
        let id = self.u32()?;
        Ok((id != 0).then_some(id))
    }

    /// The conformance (maximum count) of a conformant array of elements of `elem` bytes
    /// each: bounded by [`MAX_ELEMENTS`] and by what the rest of the stub could hold.
    pub fn conformance(&mut self, elem: usize) -> Result<u32> {
        let n = self.u32()?;
        self.check_count(n, elem)?;
        Ok(n)
    }

    fn check_count(&self, n: u32, elem: usize) -> Result<()> {
        if n > MAX_ELEMENTS || (n as usize).saturating_mul(elem.max(1)) > self.remaining() {
            return Err(NdrError::Bounds);
        }
        Ok(())
    }

    /// The variance (offset, actual count) of a varying array, against its maximum
    /// count (C706 14.3.3.3): offset + actual may not exceed it.
    pub fn variance(&mut self, max: u32, elem: usize) -> Result<u32> {
        let offset = self.u32()?;
        let actual = self.u32()?;
        if offset != 0 || actual > max {
            return Err(NdrError::Bounds);
        }
        self.check_count(actual, elem)?;
        Ok(actual)
    }

    /// `[string] wchar_t*` pointee: a conformant varying array of UTF-16 code units
    /// ending in a NUL (C706 14.3.4, MS-RPCE 2.2.5.2.2). The NUL is not returned.
    pub fn wstring(&mut self) -> Result<String> {
        let max = self.conformance(0)?;
        let actual = self.variance(max, 2)?;
        let units = self.units(actual)?;
        match units.split_last() {
            Some((0, rest)) => Ok(String::from_utf16_lossy(rest)),
            _ => Err(NdrError::Bounds),
        }
    }

    fn units(&mut self, n: u32) -> Result<Vec<u16>> {
        let b = self.take(n as usize * 2)?;
        Ok(b.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect())
    }

    /// The scalar part of an RPC_UNICODE_STRING (MS-DTYP 2.3.10): Length and
    /// MaximumLength in bytes, and the buffer pointer; the structure is 4-aligned (it
    /// holds a pointer).
    pub fn unicode_string_head(&mut self) -> Result<UnicodeHead> {
        self.align(4)?;
        let length = self.u16()?;
        let maximum = self.u16()?;
        let buffer = self.pointer()?;
        if length % 2 != 0 || length > maximum {
            return Err(NdrError::Bounds);
        }
        Ok(UnicodeHead { length, maximum, present: buffer.is_some() })
    }

    /// The deferred buffer of an RPC_UNICODE_STRING: `[size_is(MaximumLength/2),
    /// length_is(Length/2)] WCHAR*`, checked against its head.
    pub fn unicode_string_body(&mut self, head: UnicodeHead) -> Result<String> {
        if !head.present {
            return Ok(String::new());
        }
        let max = self.conformance(0)?;
        let actual = self.variance(max, 2)?;
        if max != u32::from(head.maximum / 2) || actual != u32::from(head.length / 2) {
            return Err(NdrError::Bounds);
        }
        Ok(String::from_utf16_lossy(&self.units(actual)?))
    }

    /// A context handle (C706 appendix N, ndr_context_handle): 4 bytes of attributes and
    /// a 16-byte UUID.
    pub fn context_handle(&mut self) -> Result<[u8; 20]> {
        self.align(4)?;
        let b = self.take(20)?;
        let mut h = [0u8; 20];
        h.copy_from_slice(b);
        Ok(h)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnicodeHead {
    pub length: u16,
    pub maximum: u16,
    pub present: bool,
}

/// Encodes NDR20 into a stub. Referent ids count up from 0x0002_0000 as Windows does.
pub struct Writer {
    pub buf: Vec<u8>,
    next_ref: u32,
}

impl Default for Writer {
    fn default() -> Self {
        Writer::new()
    }
}

impl Writer {
    pub fn new() -> Self {
        Writer { buf: Vec::new(), next_ref: 0x0002_0000 }
    }

    pub fn align(&mut self, n: usize) {
        while !self.buf.len().is_multiple_of(n) {
            self.buf.push(0);
        }
    }

    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }

    pub fn u16(&mut self, v: u16) {
        self.align(2);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    pub fn u32(&mut self, v: u32) {
        self.align(4);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    pub fn bytes(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }

    /// A unique pointer's referent id: a fresh one when `present`, else null.
    pub fn pointer(&mut self, present: bool) {
        if present {
            let id = self.next_ref;
            self.next_ref = self.next_ref.wrapping_add(4);
            self.u32(id);
        } else {
            self.u32(0);
        }
    }

    /// The pointee of `[string] wchar_t*`: max count, offset 0, actual count, the
    /// UTF-16 units and a NUL.
    pub fn wstring(&mut self, s: &str) {
        let units: Vec<u16> = s.encode_utf16().chain(std::iter::once(0)).collect();
        self.u32(units.len() as u32);
        self.u32(0);
        self.u32(units.len() as u32);
        for u in units {
            self.buf.extend_from_slice(&u.to_le_bytes());
        }
    }

    /// The scalar part of an RPC_UNICODE_STRING for `s` (no NUL is counted: Length is
    /// the bytes of the text, MaximumLength the same).
    pub fn unicode_string_head(&mut self, s: &str) {
        self.align(4);
        let bytes = (s.encode_utf16().count() * 2).min(0xFFFE) as u16;
        self.u16(bytes);
        self.u16(bytes);
        self.pointer(true);
    }

    /// The deferred buffer of an RPC_UNICODE_STRING written by `unicode_string_head`.
    pub fn unicode_string_body(&mut self, s: &str) {
        let units: Vec<u16> = s.encode_utf16().take(0x7FFF).collect();
        self.u32(units.len() as u32);
        self.u32(0);
        self.u32(units.len() as u32);
        for u in units {
            self.buf.extend_from_slice(&u.to_le_bytes());
        }
    }

    pub fn context_handle(&mut self, h: &[u8; 20]) {
        self.align(4);
        self.buf.extend_from_slice(h);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_round_trip() {
        let mut w = Writer::new();
        w.u8(1);
        w.wstring("\\\\server");
        w.unicode_string_head("Müller");
        w.unicode_string_body("Müller");
        let mut r = Reader::new(&w.buf);
        assert_eq!(r.u8().unwrap(), 1);
        assert_eq!(r.wstring().unwrap(), "\\\\server");
        let head = r.unicode_string_head().unwrap();
        assert_eq!(head, UnicodeHead { length: 12, maximum: 12, present: true });
        assert_eq!(r.unicode_string_body(head).unwrap(), "Müller");
        assert_eq!(r.remaining(), 0);
    }

    #[test]
    fn alignment_is_checked_padding() {
        let mut w = Writer::new();
        w.u8(7);
        w.u32(0xAABBCCDD);
        assert_eq!(w.buf, [7, 0, 0, 0, 0xDD, 0xCC, 0xBB, 0xAA]);
        let mut r = Reader::new(&w.buf[..6]);
        r.u8().unwrap();
        assert_eq!(r.u32(), Err(NdrError::Short));
    }

    #[test]
    fn bounds_are_checked_before_anything_is_allocated() {
        // A string claiming 0x7FFFFFFF units in twelve bytes.
        let mut w = Writer::new();
        w.u32(0x7FFF_FFFF);
        w.u32(0);
        w.u32(0x7FFF_FFFF);
        assert_eq!(Reader::new(&w.buf).wstring(), Err(NdrError::Bounds));
        // Actual count above the maximum, a nonzero offset, a string without its NUL.
        for (max, off, actual, units) in [(2u32, 0u32, 3u32, &[65u16, 0, 0][..]), (2, 1, 1, &[0]), (1, 0, 1, &[65])] {
            let mut w = Writer::new();
            w.u32(max);
            w.u32(off);
            w.u32(actual);
            for u in units {
                w.u16(*u);
            }
            assert_eq!(Reader::new(&w.buf).wstring(), Err(NdrError::Bounds), "{max} {off} {actual}");
        }
        // An RPC_UNICODE_STRING whose buffer disagrees with its head.
        let mut w = Writer::new();
        w.u16(4);
        w.u16(4);
        w.pointer(true);
        w.u32(3);
        w.u32(0);
        w.u32(2);
        w.u16(65);
        w.u16(66);
        let mut r = Reader::new(&w.buf);
        let head = r.unicode_string_head().unwrap();
        assert_eq!(r.unicode_string_body(head), Err(NdrError::Bounds));
        // Odd lengths, Length above MaximumLength.
        for (len, max) in [(3u16, 4u16), (6, 4)] {
            let mut w = Writer::new();
            w.u16(len);
            w.u16(max);
            w.u32(0);
            assert_eq!(Reader::new(&w.buf).unicode_string_head(), Err(NdrError::Bounds));
        }
    }

    #[test]
    fn enums_and_conformance_have_ranges() {
        assert_eq!(Reader::new(&0x8000u16.to_le_bytes()).enum16(), Err(NdrError::Range));
        let mut w = Writer::new();
        w.u32(MAX_ELEMENTS + 1);
        w.bytes(&vec![0; 8 * (MAX_ELEMENTS as usize + 1)]);
        assert_eq!(Reader::new(&w.buf).conformance(1), Err(NdrError::Bounds));
        let mut w = Writer::new();
        w.u32(3);
        w.bytes(&[0; 11]);
        assert_eq!(Reader::new(&w.buf).conformance(4), Err(NdrError::Bounds));
    }

    #[test]
    fn referent_ids_are_fresh_and_null_is_zero() {
        let mut w = Writer::new();
        w.pointer(true);
        w.pointer(false);
        w.pointer(true);
        let mut r = Reader::new(&w.buf);
        let a = r.pointer().unwrap();
        assert_eq!(r.pointer().unwrap(), None);
        let b = r.pointer().unwrap();
        assert!(a.is_some() && b.is_some() && a != b);
    }
}
