//! QUERY_DIRECTORY, CHANGE_NOTIFY, QUERY_INFO and SET_INFO (MS-SMB2 2.2.33–2.2.40).

use crate::cursor::{slice_at, utf16le, Put, Reader};
use crate::error::Result;
use crate::file_ops::file_id;
use crate::header::HEADER_LEN;
use opportune_types::FileId;

pub mod dir_flags {
    pub const RESTART_SCANS: u8 = 0x01;
    pub const RETURN_SINGLE_ENTRY: u8 = 0x02;
    pub const INDEX_SPECIFIED: u8 = 0x04;
    pub const REOPEN: u8 = 0x10;
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryDirectoryRequest {
    pub info_class: u8,
    pub flags: u8,
    pub file_index: u32,
    pub file_id: FileId,
    pub pattern: String,
    pub output_buffer_length: u32,
}

impl QueryDirectoryRequest {
    pub fn decode(msg: &[u8]) -> Result<Self> {
        let mut r = Reader::new(msg, HEADER_LEN);
        r.structure_size(33)?;
        let info_class = r.u8()?;
        let flags = r.u8()?;
        let file_index = r.u32()?;
        let file_id = file_id(&mut r)?;
        let off = usize::from(r.u16()?);
        let len = usize::from(r.u16()?);
        let output_buffer_length = r.u32()?;
        let pattern = utf16le(slice_at(msg, off, len)?)?;
        Ok(QueryDirectoryRequest { info_class, flags, file_index, file_id, pattern, output_buffer_length })
    }
}

/// The response shared by QUERY_DIRECTORY, CHANGE_NOTIFY and QUERY_INFO: an offset,
/// a length and the buffer (MS-SMB2 2.2.34, 2.2.36, 2.2.38).
pub fn encode_buffer_response(out: &mut Vec<u8>, buffer: &[u8]) {
    out.put_u16(9);
    out.put_u16(if buffer.is_empty() { 0 } else { (HEADER_LEN + 8) as u16 });
    out.put_u32(buffer.len() as u32);
    if buffer.is_empty() {
        out.push(0);
    } else {
        out.extend_from_slice(buffer);
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChangeNotifyRequest {
    pub flags: u16,
    pub output_buffer_length: u32,
    pub file_id: FileId,
    pub completion_filter: u32,
}

impl ChangeNotifyRequest {
    pub fn decode(msg: &[u8]) -> Result<Self> {
        let mut r = Reader::new(msg, HEADER_LEN);
        r.structure_size(32)?;
        let flags = r.u16()?;
        let output_buffer_length = r.u32()?;
        let file_id = file_id(&mut r)?;
        let completion_filter = r.u32()?;
        Ok(ChangeNotifyRequest { flags, output_buffer_length, file_id, completion_filter })
    }
}

pub mod info_type {
    pub const FILE: u8 = 0x01;
    pub const FILESYSTEM: u8 = 0x02;
    pub const SECURITY: u8 = 0x03;
    pub const QUOTA: u8 = 0x04;
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryInfoRequest<'a> {
    pub info_type: u8,
    pub info_class: u8,
    pub output_buffer_length: u32,
    pub input: &'a [u8],
    pub additional_information: u32,
    pub flags: u32,
    pub file_id: FileId,
}

impl<'a> QueryInfoRequest<'a> {
    pub fn decode(msg: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(msg, HEADER_LEN);
        r.structure_size(41)?;
        let info_type = r.u8()?;
        let info_class = r.u8()?;
        let output_buffer_length = r.u32()?;
        let in_off = usize::from(r.u16()?);
        r.skip(2)?;
        let in_len = r.u32()? as usize;
        let additional_information = r.u32()?;
        let flags = r.u32()?;
        let file_id = file_id(&mut r)?;
        let input = slice_at(msg, in_off, in_len)?;
        Ok(QueryInfoRequest { info_type, info_class, output_buffer_length, input, additional_information, flags, file_id })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetInfoRequest<'a> {
    pub info_type: u8,
    pub info_class: u8,
    pub buffer: &'a [u8],
    pub additional_information: u32,
    pub file_id: FileId,
}

impl<'a> SetInfoRequest<'a> {
    pub fn decode(msg: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(msg, HEADER_LEN);
        r.structure_size(33)?;
        let info_type = r.u8()?;
        let info_class = r.u8()?;
        let len = r.u32()? as usize;
        let off = usize::from(r.u16()?);
        r.skip(2)?;
        let additional_information = r.u32()?;
        let file_id = file_id(&mut r)?;
        let buffer = slice_at(msg, off, len)?;
        Ok(SetInfoRequest { info_type, info_class, buffer, additional_information, file_id })
    }
}

/// SET_INFO response body (MS-SMB2 2.2.40).
pub fn encode_set_info_response(out: &mut Vec<u8>) {
    out.put_u16(2);
}
