//! SPNEGO and NTLMSSP parsing on arbitrary bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = opportune_auth::spnego::parse_client_token(data);
    let mut ntlm = opportune_auth::NtlmAcceptor::new([1; 8], "FUZZ", "fuzz", 0);
    let _ = ntlm.challenge(data);
});
