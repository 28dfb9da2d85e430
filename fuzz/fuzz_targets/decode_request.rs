//! Every SMB2 request decoder, on arbitrary bytes, and the SMB1 negotiate sniffer.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = opportune_wire::decode_any(data);
    let _ = opportune_wire::transport::parse_smb1_negotiate(data);
    let _ = opportune_wire::create::decode_contexts(data);
});
