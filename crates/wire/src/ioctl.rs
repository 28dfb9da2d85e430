//! IOCTL (MS-SMB2 2.2.31, 2.2.32).

use crate::cursor::{slice_at, Put, Reader};
use crate::error::Result;
use crate::file_ops::{file_id, put_file_id};
use crate::header::HEADER_LEN;
use opportune_types::FileId;

pub const FLAG_IS_FSCTL: u32 = 0x1;

pub mod fsctl {
    pub const DFS_GET_REFERRALS: u32 = 0x0006_0194;
    pub const PIPE_TRANSCEIVE: u32 = 0x0011_C017;
    pub const VALIDATE_NEGOTIATE_INFO: u32 = 0x0014_0204;
    pub const QUERY_NETWORK_INTERFACE_INFO: u32 = 0x0014_01FC;
    pub const SRV_REQUEST_RESUME_KEY: u32 = 0x0014_0078;
    pub const SRV_ENUMERATE_SNAPSHOTS: u32 = 0x0014_4064;
    pub const GET_REPARSE_POINT: u32 = 0x0009_00A8;
    pub const CREATE_OR_GET_OBJECT_ID: u32 = 0x0009_00C0;
    pub const SET_SPARSE: u32 = 0x0009_00C4;
    pub const QUERY_ALLOCATED_RANGES: u32 = 0x0009_40CF;
    pub const SET_ZERO_DATA: u32 = 0x0009_80C8;
    pub const LMR_REQUEST_RESILIENCY: u32 = 0x0014_01D4;
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IoctlRequest<'a> {
    pub ctl_code: u32,
    pub file_id: FileId,
    pub input: &'a [u8],
    pub max_input_response: u32,
    pub max_output_response: u32,
    pub flags: u32,
}

impl<'a> IoctlRequest<'a> {
    pub fn decode(msg: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(msg, HEADER_LEN);
        r.structure_size(57)?;
        r.skip(2)?;
        let ctl_code = r.u32()?;
        let file_id = file_id(&mut r)?;
        let in_off = r.u32()? as usize;
        let in_len = r.u32()? as usize;
        let max_input_response = r.u32()?;
        r.skip(8)?;
        let max_output_response = r.u32()?;
        let flags = r.u32()?;
        r.skip(4)?;
        let input = slice_at(msg, in_off, in_len)?;
        Ok(IoctlRequest { ctl_code, file_id, input, max_input_response, max_output_response, flags })
    }
}

pub fn encode_ioctl_response(out: &mut Vec<u8>, ctl_code: u32, file_id: FileId, output: &[u8]) {
    out.put_u16(49);
    out.put_u16(0);
    out.put_u32(ctl_code);
    put_file_id(out, file_id);
    let off = (HEADER_LEN + 48) as u32;
    out.put_u32(off);
    out.put_u32(0);
    out.put_u32(off);
    out.put_u32(output.len() as u32);
    out.put_u32(0);
    out.put_u32(0);
    out.extend_from_slice(output);
}
