//! Every SMB2 request decoder, on arbitrary bytes, the SMB1 negotiate sniffer, create
//! contexts and the quota query input (SMB2_QUERY_QUOTA_INFO).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = opportune_wire::decode_any(data);
    let _ = opportune_wire::transport::parse_smb1_negotiate(data);
    let _ = opportune_wire::create::decode_contexts(data);
    let _ = opportune_wire::quota::decode_quota_query(data);
});
