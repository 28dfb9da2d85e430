//! lsarpc: policy handles (MS-LSAD 3.1.4.4.1 LsarOpenPolicy2, 3.1.4.4.2 LsarOpenPolicy,
//! 3.1.4.4.3/3.1.4.4.4 LsarQueryInformationPolicy(2), 3.1.4.9.4 LsarClose) and the
//! translation of SIDs and names (MS-LSAT 3.1.4.5 - 3.1.4.11: LsarLookupNames4/3/2/1,
//! LsarLookupSids3/2/1) for the server's accounts, its built-in aliases and the
//! well-known SIDs (MS-DTYP 2.4.2.4).

use super::{CallError, FAULT_CONTEXT_MISMATCH};
use crate::ndr::{NdrError, Reader, Writer};
use crate::provider::{AccountKind, Provider};
use crate::sid::{NdrSid, Sid};
use std::collections::HashMap;

pub const CLOSE: u16 = 0;
pub const OPEN_POLICY: u16 = 6;
pub const QUERY_INFORMATION_POLICY: u16 = 7;
pub const LOOKUP_NAMES: u16 = 14;
pub const LOOKUP_SIDS: u16 = 15;
pub const OPEN_POLICY2: u16 = 44;
pub const QUERY_INFORMATION_POLICY2: u16 = 46;
pub const LOOKUP_SIDS2: u16 = 57;
pub const LOOKUP_NAMES2: u16 = 58;
pub const LOOKUP_NAMES3: u16 = 68;
pub const LOOKUP_SIDS3: u16 = 76;
pub const LOOKUP_NAMES4: u16 = 77;

pub mod nt {
    pub const SUCCESS: u32 = 0;
    pub const SOME_NOT_MAPPED: u32 = 0x0000_0107;
    pub const INVALID_HANDLE: u32 = 0xC000_0008;
    pub const INVALID_PARAMETER: u32 = 0xC000_000D;
    pub const ACCESS_DENIED: u32 = 0xC000_0022;
    pub const NONE_MAPPED: u32 = 0xC000_0073;
    pub const INSUFFICIENT_RESOURCES: u32 = 0xC000_009A;
}

/// Policy access rights a read-only server grants (MS-LSAD 2.2.1.1.2): view local
/// information, view audit information, look up names; READ_CONTROL, SYNCHRONIZE.
const POLICY_VIEW_LOCAL_INFORMATION: u32 = 0x0000_0001;
const POLICY_LOOKUP_NAMES: u32 = 0x0000_0800;
const GRANTABLE: u32 = POLICY_VIEW_LOCAL_INFORMATION | 0x0000_0002 | POLICY_LOOKUP_NAMES | 0x0002_0000 | 0x0010_0000;
const MAXIMUM_ALLOWED: u32 = 0x0200_0000;
/// GENERIC_READ maps to POLICY_READ and GENERIC_EXECUTE to POLICY_EXECUTE (MS-LSAD
/// 2.2.1.1.2); of those this server grants what is in GRANTABLE.
const GENERIC_READ: u32 = 0x8000_0000;
const GENERIC_EXECUTE: u32 = 0x2000_0000;
const POLICY_READ: u32 = 0x0002_0006;
const POLICY_EXECUTE: u32 = 0x0002_0801;

/// Policy handles one pipe may hold; more answer STATUS_INSUFFICIENT_RESOURCES.
pub const MAX_HANDLES: usize = 64;
/// Names in one LsarLookupNames call (`[range(0,1000)]` Count, MS-LSAT 3.1.4.5 - 3.1.4.8).
const MAX_NAMES: u32 = 1000;
/// LSAPR_REFERENCED_DOMAIN_LIST.MaxEntries as Windows sends it.
const MAX_REFERENCED_DOMAINS: u32 = 32;

/// SID_NAME_USE (MS-LSAT 2.2.13).
pub mod use_ {
    pub const USER: u16 = 1;
    pub const GROUP: u16 = 2;
    pub const DOMAIN: u16 = 3;
    pub const ALIAS: u16 = 4;
    pub const WELL_KNOWN_GROUP: u16 = 5;
    pub const UNKNOWN: u16 = 8;
}

/// The policy handles of one pipe and the rights each was granted.
#[derive(Debug)]
pub struct Handles {
    seed: u64,
    next: u64,
    open: HashMap<[u8; 20], u32>,
}

impl Handles {
    pub fn new(seed: u64) -> Handles {
        Handles { seed, next: 1, open: HashMap::new() }
    }

    pub fn len(&self) -> usize {
        self.open.len()
    }

    pub fn is_empty(&self) -> bool {
        self.open.is_empty()
    }

    fn create(&mut self, granted: u32) -> Option<[u8; 20]> {
        if self.open.len() >= MAX_HANDLES {
            return None;
        }
        let mut h = [0u8; 20];
        h[4..12].copy_from_slice(&self.seed.to_le_bytes());
        h[12..20].copy_from_slice(&self.next.to_le_bytes());
        self.next += 1;
        self.open.insert(h, granted);
        Some(h)
    }

    fn granted(&self, h: &[u8; 20]) -> Option<u32> {
        self.open.get(h).copied()
    }
}

pub fn call(opnum: u16, mut r: Reader<'_>, handles: &mut Handles, p: &dyn Provider) -> Result<Option<Vec<u8>>, CallError> {
    let r = &mut r;
    Ok(Some(match opnum {
        CLOSE => close(r, handles)?,
        OPEN_POLICY => open_policy(r, handles, p, false)?,
        OPEN_POLICY2 => open_policy(r, handles, p, true)?,
        QUERY_INFORMATION_POLICY | QUERY_INFORMATION_POLICY2 => query_information(r, handles, p)?,
        LOOKUP_SIDS => lookup_sids(r, Some(handles), p, NamesShape::Plain)?,
        LOOKUP_SIDS2 => lookup_sids(r, Some(handles), p, NamesShape::Ex)?,
        LOOKUP_SIDS3 => lookup_sids(r, None, p, NamesShape::Ex)?,
        LOOKUP_NAMES => lookup_names(r, Some(handles), p, SidsShape::Plain)?,
        LOOKUP_NAMES2 => lookup_names(r, Some(handles), p, SidsShape::Ex)?,
        LOOKUP_NAMES3 => lookup_names(r, Some(handles), p, SidsShape::Ex2)?,
        LOOKUP_NAMES4 => lookup_names(r, None, p, SidsShape::Ex2)?,
        _ => return Ok(None),
    }))
}

/// LsarClose: the handle (in, out); out a zeroed handle.
fn close(r: &mut Reader<'_>, handles: &mut Handles) -> Result<Vec<u8>, CallError> {
    let h = r.context_handle()?;
    if handles.open.remove(&h).is_none() {
        return Err(CallError::Fault(FAULT_CONTEXT_MISMATCH));
    }
    let mut w = Writer::new();
    w.context_handle(&[0; 20]);
    w.u32(nt::SUCCESS);
    Ok(w.buf)
}

/// LsarOpenPolicy2 (`[string, unique] wchar_t*` SystemName) and LsarOpenPolicy
/// (`[unique] wchar_t*`: one character): then LSAPR_OBJECT_ATTRIBUTES and DesiredAccess.
fn open_policy(r: &mut Reader<'_>, handles: &mut Handles, p: &dyn Provider, v2: bool) -> Result<Vec<u8>, CallError> {
    if v2 {
        super::unique_wstring(r)?;
    } else if r.pointer()?.is_some() {
        r.u16()?;
    }
    object_attributes(r)?;
    let desired = r.u32()?;
    let mut w = Writer::new();
    let mut wanted = desired & !(GENERIC_READ | GENERIC_EXECUTE | MAXIMUM_ALLOWED);
    if desired & GENERIC_READ != 0 {
        wanted |= POLICY_READ & GRANTABLE;
    }
    if desired & GENERIC_EXECUTE != 0 {
        wanted |= POLICY_EXECUTE & GRANTABLE;
    }
    let status = if !p.authenticated() || wanted & !GRANTABLE != 0 {
        nt::ACCESS_DENIED
    } else {
        let granted = if desired & MAXIMUM_ALLOWED != 0 { GRANTABLE } else { wanted };
        match handles.create(granted) {
            Some(h) => {
                w.context_handle(&h);
                nt::SUCCESS
            }
            None => nt::INSUFFICIENT_RESOURCES,
        }
    };
    if status != nt::SUCCESS {
        w.context_handle(&[0; 20]);
    }
    w.u32(status);
    Ok(w.buf)
}

/// LSAPR_OBJECT_ATTRIBUTES (MS-LSAD 2.2.2.4), read and ignored as the spec says:
/// Length, RootDirectory, ObjectName, Attributes, SecurityDescriptor and
/// SecurityQualityOfService, then the pointees in that order.
fn object_attributes(r: &mut Reader<'_>) -> Result<(), NdrError> {
    r.u32()?;
    let root = r.pointer()?;
    let name = r.pointer()?;
    r.u32()?;
    let sd = r.pointer()?;
    let qos = r.pointer()?;
    if root.is_some() {
        r.u8()?;
    }
    if name.is_some() {
        // STRING: Length, MaximumLength, `[size_is(MaximumLength), length_is(Length)] char*`.
        r.align(4)?;
        let len = r.u16()?;
        let max = r.u16()?;
        if r.pointer()?.is_some() {
            let m = r.conformance(0)?;
            let actual = r.variance(m, 1)?;
            if m != u32::from(max) || actual != u32::from(len) {
                return Err(NdrError::Bounds);
            }
            r.take(actual as usize)?;
        }
    }
    if sd.is_some() {
        // LSAPR_SECURITY_DESCRIPTOR: Length, `[size_is(Length)] unsigned char*`.
        let len = r.u32()?;
        if r.pointer()?.is_some() {
            let n = r.conformance(1)?;
            if n != len {
                return Err(NdrError::Bounds);
            }
            r.take(n as usize)?;
        }
    }
    if qos.is_some() {
        // SECURITY_QUALITY_OF_SERVICE: Length, ImpersonationLevel, ContextTrackingMode,
        // EffectiveOnly.
        r.u32()?;
        r.enum16()?;
        r.u8()?;
        r.u8()?;
    }
    Ok(())
}

/// POLICY_INFORMATION_CLASS values answered (MS-LSAD 2.2.4.1).
const PRIMARY_DOMAIN: u16 = 3;
const ACCOUNT_DOMAIN: u16 = 5;
const DNS_DOMAIN: u16 = 12;

/// LsarQueryInformationPolicy(2): handle, class; out a unique pointer to the
/// LSAPR_POLICY_INFORMATION union. A stand-alone server's primary domain is its
/// workgroup without a SID, its account domain its own name and SID (MS-LSAD 3.1.1.1).
fn query_information(r: &mut Reader<'_>, handles: &Handles, p: &dyn Provider) -> Result<Vec<u8>, CallError> {
    let h = r.context_handle()?;
    let class = r.enum16()?;
    let mut w = Writer::new();
    let status = match handles.granted(&h) {
        None => return Err(CallError::Fault(FAULT_CONTEXT_MISMATCH)),
        Some(g) if g & POLICY_VIEW_LOCAL_INFORMATION == 0 => nt::ACCESS_DENIED,
        Some(_) if !matches!(class, PRIMARY_DOMAIN | ACCOUNT_DOMAIN | DNS_DOMAIN) => nt::INVALID_PARAMETER,
        Some(_) => nt::SUCCESS,
    };
    if status != nt::SUCCESS {
        w.pointer(false);
        w.u32(status);
        return Ok(w.buf);
    }
    w.pointer(true);
    w.u16(class);
    w.align(4);
    match class {
        ACCOUNT_DOMAIN => {
            let name = p.server_name();
            w.unicode_string_head(&name);
            w.pointer(true);
            w.unicode_string_body(&name);
            p.domain_sid().encode(&mut w);
        }
        PRIMARY_DOMAIN => {
            let name = p.workgroup();
            w.unicode_string_head(&name);
            w.pointer(false);
            w.unicode_string_body(&name);
        }
        _ => {
            // LSAPR_POLICY_DNS_DOMAIN_INFO: Name, DnsDomainName, DnsForestName,
            // DomainGuid, Sid; no DNS domain and no GUID for a stand-alone server.
            let name = p.workgroup();
            w.unicode_string_head(&name);
            w.unicode_string_head("");
            w.unicode_string_head("");
            w.bytes(&[0; 16]);
            w.pointer(false);
            w.unicode_string_body(&name);
            w.unicode_string_body("");
            w.unicode_string_body("");
        }
    }
    w.u32(nt::SUCCESS);
    Ok(w.buf)
}

/// One name the server can translate.
struct Known {
    sid: Sid,
    name: String,
    /// Index into the directory's domains.
    domain: usize,
    use_: u16,
}

struct Domain {
    name: String,
    sid: Sid,
}

/// Everything translatable: the account domain's users and groups, the domains
/// themselves, BUILTIN's aliases and the well-known SIDs (MS-DTYP 2.4.2.4).
struct Directory {
    domains: Vec<Domain>,
    known: Vec<Known>,
}

/// (authority, sub-authorities, name, domain index, use) of the well-known SIDs.
const WELL_KNOWN: &[(u64, &[u32], &str, usize, u16)] = &[
    (1, &[0], "Everyone", 0, use_::WELL_KNOWN_GROUP),
    (3, &[0], "CREATOR OWNER", 1, use_::WELL_KNOWN_GROUP),
    (3, &[1], "CREATOR GROUP", 1, use_::WELL_KNOWN_GROUP),
    (5, &[2], "NETWORK", 2, use_::WELL_KNOWN_GROUP),
    (5, &[4], "INTERACTIVE", 2, use_::WELL_KNOWN_GROUP),
    (5, &[7], "ANONYMOUS LOGON", 2, use_::WELL_KNOWN_GROUP),
    (5, &[11], "Authenticated Users", 2, use_::WELL_KNOWN_GROUP),
    (5, &[18], "SYSTEM", 2, use_::WELL_KNOWN_GROUP),
    (5, &[19], "LOCAL SERVICE", 2, use_::WELL_KNOWN_GROUP),
    (5, &[20], "NETWORK SERVICE", 2, use_::WELL_KNOWN_GROUP),
    (5, &[32, 544], "Administrators", 3, use_::ALIAS),
    (5, &[32, 545], "Users", 3, use_::ALIAS),
    (5, &[32, 546], "Guests", 3, use_::ALIAS),
    (5, &[32, 551], "Backup Operators", 3, use_::ALIAS),
];

/// The index of the server's account domain in `Directory::domains`.
const ACCOUNT: usize = 4;

impl Directory {
    fn of(p: &dyn Provider) -> Directory {
        let domain_sid = p.domain_sid();
        let server = p.server_name();
        let domains = vec![
            Domain { name: String::new(), sid: Sid::new(1, &[]) },
            Domain { name: String::new(), sid: Sid::new(3, &[]) },
            Domain { name: "NT AUTHORITY".into(), sid: Sid::new(5, &[]) },
            Domain { name: "BUILTIN".into(), sid: Sid::new(5, &[32]) },
            Domain { name: server.clone(), sid: domain_sid.clone() },
        ];
        let mut known = Vec::new();
        for a in p.accounts() {
            if let Some(sid) = domain_sid.with_rid(a.rid) {
                let use_ = if a.kind == AccountKind::User { use_::USER } else { use_::GROUP };
                known.push(Known { sid, name: a.name, domain: ACCOUNT, use_ });
            }
        }
        known.push(Known { sid: domain_sid, name: server, domain: ACCOUNT, use_: use_::DOMAIN });
        known.push(Known { sid: Sid::new(5, &[32]), name: "BUILTIN".into(), domain: 3, use_: use_::DOMAIN });
        for &(auth, sub, name, domain, use_) in WELL_KNOWN {
            known.push(Known { sid: Sid::new(auth, sub), name: name.into(), domain, use_ });
        }
        Directory { domains, known }
    }

    fn by_sid(&self, sid: &Sid) -> Option<&Known> {
        self.known.iter().find(|k| &k.sid == sid)
    }

    /// `DOMAIN\name` or `name` (the account domain first, then BUILTIN, then the
    /// well-known names), ignoring case (MS-LSAT 3.1.4.5: isolated and composite names).
    /// An empty name is the account domain, as LookupAccountName resolves it.
    fn by_name(&self, full: &str) -> Option<&Known> {
        if full.is_empty() {
            return self.known.iter().find(|k| k.use_ == use_::DOMAIN && k.domain == ACCOUNT);
        }
        let (domain, name) = match full.split_once('\\') {
            Some((d, n)) => (Some(d), n),
            None => (None, full),
        };
        self.known.iter().find(|k| {
            k.name.eq_ignore_ascii_case(name)
                && domain.is_none_or(|d| self.domains[k.domain].name.eq_ignore_ascii_case(d))
        })
    }

    /// The domain a SID belongs to, for SIDs that translate to nothing.
    fn domain_of(&self, sid: &Sid) -> Option<usize> {
        let (prefix, _) = sid.split_rid()?;
        self.domains.iter().position(|d| d.sid == prefix)
    }
}

/// The domains named in a lookup's answer, each once, in first-use order.
#[derive(Default)]
struct Referenced(Vec<usize>);

impl Referenced {
    fn index(&mut self, domain: usize) -> i32 {
        match self.0.iter().position(|&d| d == domain) {
            Some(i) => i as i32,
            None => {
                self.0.push(domain);
                self.0.len() as i32 - 1
            }
        }
    }

    /// `[out] PLSAPR_REFERENCED_DOMAIN_LIST*`: a unique pointer to Entries, Domains and
    /// MaxEntries, then the LSAPR_TRUST_INFORMATION array (names, SIDs).
    fn encode(&self, w: &mut Writer, dir: &Directory) {
        w.pointer(true);
        let n = self.0.len() as u32;
        w.u32(n);
        w.pointer(n > 0);
        w.u32(MAX_REFERENCED_DOMAINS);
        if n == 0 {
            return;
        }
        w.u32(n);
        for &d in &self.0 {
            w.unicode_string_head(&dir.domains[d].name);
            w.pointer(true);
        }
        for &d in &self.0 {
            w.unicode_string_body(&dir.domains[d].name);
            dir.domains[d].sid.encode(w);
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum NamesShape {
    /// LSAPR_TRANSLATED_NAME: Use, Name, DomainIndex.
    Plain,
    /// LSAPR_TRANSLATED_NAME_EX: and Flags.
    Ex,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum SidsShape {
    /// LSA_TRANSLATED_SID: Use, RelativeId, DomainIndex.
    Plain,
    /// LSAPR_TRANSLATED_SID_EX: and Flags.
    Ex,
    /// LSAPR_TRANSLATED_SID_EX2: Use, Sid, DomainIndex, Flags.
    Ex2,
}

#[derive(Clone, Copy)]
enum F {
    U16,
    U32,
    Str,
    Sid,
}

/// Reads and discards an `[in, out]` translation array (Entries, a pointer to the
/// elements): clients send it empty, but any well-formed one is accepted.
fn skip_translated(r: &mut Reader<'_>, fields: &[F]) -> Result<(), NdrError> {
    let entries = r.u32()?;
    if r.pointer()?.is_none() {
        return Ok(());
    }
    let n = r.conformance(4 * fields.len())?;
    if n != entries {
        return Err(NdrError::Bounds);
    }
    let mut deferred = Vec::new();
    for _ in 0..n {
        for f in fields {
            match f {
                F::U16 => {
                    r.enum16()?;
                }
                F::U32 => {
                    r.u32()?;
                }
                F::Str => deferred.push((Some(r.unicode_string_head()?), false)),
                F::Sid => deferred.push((None, r.pointer()?.is_some())),
            }
        }
    }
    for (head, sid) in deferred {
        if let Some(h) = head {
            r.unicode_string_body(h)?;
        } else if sid {
            Sid::decode(r)?;
        }
    }
    Ok(())
}

/// A policy handle with POLICY_LOOKUP_NAMES, or for the handle-less calls an
/// authenticated caller (MS-LSAT 3.1.4.5, 3.1.4.9).
fn lookup_allowed(r: &mut Reader<'_>, handles: Option<&mut Handles>, p: &dyn Provider) -> Result<u32, NdrError> {
    Ok(match handles {
        Some(hs) => match hs.granted(&r.context_handle()?) {
            None => nt::INVALID_HANDLE,
            Some(g) if g & POLICY_LOOKUP_NAMES == 0 => nt::ACCESS_DENIED,
            Some(_) => nt::SUCCESS,
        },
        None if p.authenticated() => nt::SUCCESS,
        None => nt::ACCESS_DENIED,
    })
}

/// The answer to a lookup that failed before translating: no domains, no
/// translations, MappedCount 0.
fn failed_lookup(status: u32) -> Vec<u8> {
    let mut w = Writer::new();
    w.pointer(false);
    w.u32(0);
    w.pointer(false);
    w.u32(0);
    w.u32(status);
    w.buf
}

fn mapping_status(mapped: usize, total: usize) -> u32 {
    if mapped == total {
        nt::SUCCESS
    } else if mapped > 0 {
        nt::SOME_NOT_MAPPED
    } else {
        nt::NONE_MAPPED
    }
}

/// LsarLookupSids / LsarLookupSids2 / LsarLookupSids3: [handle], SidEnumBuffer,
/// TranslatedNames, LookupLevel, MappedCount[, LookupOptions, ClientRevision].
fn lookup_sids(r: &mut Reader<'_>, handles: Option<&mut Handles>, p: &dyn Provider, shape: NamesShape) -> Result<Vec<u8>, CallError> {
    let allowed = lookup_allowed(r, handles, p)?;
    // LSAPR_SID_ENUM_BUFFER: Entries and a pointer to LSAPR_SID_INFORMATION (a SID pointer) each.
    let entries = r.u32()?;
    let mut sids: Vec<Option<Sid>> = Vec::new();
    if r.pointer()?.is_some() {
        let n = r.conformance(4)?;
        if n != entries {
            return Err(NdrError::Bounds.into());
        }
        let present = (0..n).map(|_| r.pointer().map(|p| p.is_some())).collect::<Result<Vec<_>, _>>()?;
        for has in present {
            sids.push(if has { Some(Sid::decode(r)?) } else { None });
        }
    } else if entries != 0 {
        return Err(NdrError::Bounds.into());
    }
    let fields: &[F] = match shape {
        NamesShape::Plain => &[F::U16, F::Str, F::U32],
        NamesShape::Ex => &[F::U16, F::Str, F::U32, F::U32],
    };
    if let Some(answer) = lookup_rest(r, fields, shape == NamesShape::Ex, allowed, sids.is_empty())? {
        return Ok(answer);
    }
    let dir = Directory::of(p);
    let mut refs = Referenced::default();
    let mut out = Vec::with_capacity(sids.len());
    let mut mapped = 0;
    for sid in &sids {
        let found = sid.as_ref().and_then(|s| dir.by_sid(s));
        out.push(match found {
            Some(k) => {
                mapped += 1;
                (k.use_, k.name.clone(), refs.index(k.domain))
            }
            None => {
                // An untranslatable SID comes back in its string form (as LsaLookupSids
                // documents), with its domain if that is known.
                let domain = sid.as_ref().and_then(|s| dir.domain_of(s)).map_or(-1, |d| refs.index(d));
                (use_::UNKNOWN, sid.as_ref().map(Sid::to_string).unwrap_or_default(), domain)
            }
        });
    }
    let mut w = Writer::new();
    refs.encode(&mut w, &dir);
    w.u32(out.len() as u32);
    w.pointer(true);
    w.u32(out.len() as u32);
    for (use_, name, domain) in &out {
        w.u16(*use_);
        w.unicode_string_head(name);
        w.u32(*domain as u32);
        if shape == NamesShape::Ex {
            w.u32(0);
        }
    }
    for (_, name, _) in &out {
        w.unicode_string_body(name);
    }
    w.u32(mapped as u32);
    w.u32(mapping_status(mapped, out.len()));
    Ok(w.buf)
}

/// The rest of a lookup request after its names or SIDs: the translated buffer (skipped:
/// it is an output), LookupLevel, MappedCount and, for the `extended` forms, LookupOptions
/// and ClientRevision; then the answers that end the call early: a handle that is not
/// ours (the context-mismatch fault), a handle without lookup rights, and (MS-LSAT
/// 3.1.4.10) an empty request or a LookupLevel outside 1..=6.
fn lookup_rest(r: &mut Reader<'_>, fields: &[F], extended: bool, allowed: u32, empty: bool) -> Result<Option<Vec<u8>>, CallError> {
    skip_translated(r, fields)?;
    let level = r.enum16()?;
    r.u32()?;
    if extended {
        r.u32()?;
        r.u32()?;
    }
    if allowed == nt::INVALID_HANDLE {
        return Err(CallError::Fault(FAULT_CONTEXT_MISMATCH));
    }
    if allowed != nt::SUCCESS {
        return Ok(Some(failed_lookup(allowed)));
    }
    if empty || !(1..=6).contains(&level) {
        return Ok(Some(failed_lookup(nt::INVALID_PARAMETER)));
    }
    Ok(None)
}

/// LsarLookupNames / 2 / 3 / 4: [handle], Count, Names (a top-level conformant array of
/// RPC_UNICODE_STRING), TranslatedSids, LookupLevel, MappedCount[, LookupOptions,
/// ClientRevision].
fn lookup_names(r: &mut Reader<'_>, handles: Option<&mut Handles>, p: &dyn Provider, shape: SidsShape) -> Result<Vec<u8>, CallError> {
    let allowed = lookup_allowed(r, handles, p)?;
    let count = r.u32()?;
    if count > MAX_NAMES {
        return Err(NdrError::Range.into());
    }
    let n = r.conformance(8)?;
    if n != count {
        return Err(NdrError::Bounds.into());
    }
    let heads = (0..n).map(|_| r.unicode_string_head()).collect::<Result<Vec<_>, _>>()?;
    let names = heads.into_iter().map(|h| r.unicode_string_body(h)).collect::<Result<Vec<_>, _>>()?;
    let fields: &[F] = match shape {
        SidsShape::Plain => &[F::U16, F::U32, F::U32],
        SidsShape::Ex => &[F::U16, F::U32, F::U32, F::U32],
        SidsShape::Ex2 => &[F::U16, F::Sid, F::U32, F::U32],
    };
    if let Some(answer) = lookup_rest(r, fields, shape != SidsShape::Plain, allowed, names.is_empty())? {
        return Ok(answer);
    }
    let dir = Directory::of(p);
    let mut refs = Referenced::default();
    let mut out = Vec::with_capacity(names.len());
    let mut mapped = 0;
    for name in &names {
        out.push(match dir.by_name(name) {
            Some(k) => {
                mapped += 1;
                // The RID form names the domain's SID for a domain (RelativeId -1, as Windows).
                let rid = if k.use_ == use_::DOMAIN { u32::MAX } else { k.sid.sub.last().copied().unwrap_or(0) };
                (k.use_, Some(k.sid.clone()), rid, refs.index(k.domain))
            }
            None => (use_::UNKNOWN, None, 0, -1),
        });
    }
    let mut w = Writer::new();
    refs.encode(&mut w, &dir);
    w.u32(out.len() as u32);
    w.pointer(true);
    w.u32(out.len() as u32);
    for (use_, sid, rid, domain) in &out {
        w.u16(*use_);
        match shape {
            SidsShape::Ex2 => w.pointer(sid.is_some()),
            _ => w.u32(*rid),
        }
        w.u32(*domain as u32);
        if shape != SidsShape::Plain {
            w.u32(0);
        }
    }
    if shape == SidsShape::Ex2 {
        for (_, sid, _, _) in &out {
            if let Some(s) = sid {
                s.encode(&mut w);
            }
        }
    }
    w.u32(mapped as u32);
    w.u32(mapping_status(mapped, out.len()));
    Ok(w.buf)
}
