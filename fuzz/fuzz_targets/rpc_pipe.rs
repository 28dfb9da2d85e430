//! The RPC codec on arbitrary bytes: written into a pipe of each interface (PDU framing,
//! bind, request reassembly, every service's stub decoder), and the PDU body decoders.
#![no_main]

use libfuzzer_sys::fuzz_target;
use opportune_rpc::provider::{stype, Account, AccountKind, Provider, ShareEntry};
use opportune_rpc::sid::Sid;
use opportune_rpc::{Interface, Pipe};

struct Fixed;

impl Provider for Fixed {
    fn server_name(&self) -> String {
        "FUZZ".into()
    }
    fn server_comment(&self) -> String {
        String::new()
    }
    fn workgroup(&self) -> String {
        "WORKGROUP".into()
    }
    fn shares(&self) -> Vec<ShareEntry> {
        vec![ShareEntry { name: "IPC$".into(), stype: stype::IPC | stype::SPECIAL, comment: String::new(), path: String::new(), current_uses: 0 }]
    }
    fn authenticated(&self) -> bool {
        true
    }
    fn domain_sid(&self) -> Sid {
        Sid::new(5, &[21, 1, 2, 3])
    }
    fn accounts(&self) -> Vec<Account> {
        vec![Account { name: "u".into(), rid: 1000, kind: AccountKind::User }]
    }
}

fuzz_target!(|data: &[u8]| {
    for iface in [Interface::Srvsvc, Interface::Wkssvc, Interface::Lsarpc] {
        let mut pipe = Pipe::new(iface, 1);
        let _ = pipe.write(data, &Fixed);
        while pipe.read(4280).is_some() {}
    }
    let _ = opportune_rpc::pdu::Bind::decode(data);
    let _ = opportune_rpc::pdu::BindAck::decode(data);
});
