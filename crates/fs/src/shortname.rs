//! 8.3 short names (MS-FSCC 2.1.5.2.1) for FileAlternateNameInformation
//! (MS-FSCC 2.4.5) and the ShortName of directory entries (2.4.8).
//!
//! Linux file systems keep no short names, so one is derived from the long
//! name, deterministically, so that every query and every listing agrees:
//!
//! * a name that already is a valid 8.3 name is its own short name, in
//!   upper case (short names are upper case, MS-FSCC 2.1.5.2.1);
//! * any other name gets the form Windows uses once its `~1`..`~4` names
//!   are taken: the first two valid characters of the base name, four hex
//!   digits of a hash of the whole long name, `~1`, and the first three
//!   valid characters of the last extension (e.g. `LO1A2B~1.TXT`).
//!
//! Without a stored table two long names can share a short name (a 1 in
//! 65536 chance per pair within a directory); nothing opens files by short
//! name, so such a clash only shows in what is reported.

/// Characters an 8.3 name may hold besides letters and digits (MS-FSCC 2.1.5.2.1).
const EXTRA: &str = "!#$%&'()-@^_`{}~";

fn valid_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || EXTRA.contains(c)
}

/// Whether `name` is a valid 8.3 name: 1-8 characters, optionally a dot and
/// 1-3 more, all of them valid.
pub fn is_8_3(name: &str) -> bool {
    let (base, ext) = match name.split_once('.') {
        Some((b, e)) => (b, Some(e)),
        None => (name, None),
    };
    let ok = |s: &str, max: usize| !s.is_empty() && s.len() <= max && s.chars().all(valid_char);
    ok(base, 8) && ext.is_none_or(|e| ok(e, 3))
}

/// The short name of the single component `name`; `None` for "." and "..".
pub fn short_name(name: &str) -> Option<String> {
    if name.is_empty() || name == "." || name == ".." {
        return None;
    }
    if is_8_3(name) {
        return Some(name.to_ascii_uppercase());
    }
    let (base, ext) = match name.rfind('.') {
        Some(i) if i > 0 => (&name[..i], &name[i + 1..]),
        _ => (name, ""),
    };
    let keep = |s: &str, n: usize| -> String {
        s.chars().filter(|&c| valid_char(c)).take(n).map(|c| c.to_ascii_uppercase()).collect()
    };
    let mut out = keep(base, 2);
    if out.is_empty() {
        out.push('_');
    }
    out.push_str(&format!("{:04X}~1", hash16(name)));
    let ext = keep(ext, 3);
    if !ext.is_empty() {
        out.push('.');
        out.push_str(&ext);
    }
    Some(out)
}

/// FNV-1a over the UTF-16 code units of the upper-cased name, folded to 16 bits,
/// so names differing only in case share a short name, as they share a file.
fn hash16(name: &str) -> u16 {
    let mut h: u32 = 0x811c_9dc5;
    for unit in name.to_uppercase().encode_utf16() {
        for b in unit.to_le_bytes() {
            h ^= u32::from(b);
            h = h.wrapping_mul(0x0100_0193);
        }
    }
    ((h >> 16) ^ (h & 0xffff)) as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_names_stay() {
        assert!(is_8_3("README.TXT"));
        assert!(is_8_3("a"));
        assert!(!is_8_3("toolongname.txt"));
        assert!(!is_8_3("a.b.c"));
        assert!(!is_8_3("a b"));
        assert!(!is_8_3(".x"));
        assert_eq!(short_name("file.txt").as_deref(), Some("FILE.TXT"));
        assert_eq!(short_name(".."), None);
    }

    #[test]
    fn long_names_are_mangled() {
        let s = short_name("testsmb2_file.dat").unwrap();
        assert!(is_8_3(&s), "{s}");
        assert!(s.starts_with("TE") && s.ends_with("~1.DAT"), "{s}");
        assert_eq!(short_name("TESTSMB2_FILE.DAT"), Some(s));
        let t = short_name(".hidden").unwrap();
        assert!(is_8_3(&t), "{t}");
        let u = short_name("ünïcode name.longext").unwrap();
        assert!(is_8_3(&u), "{u}");
        assert!(u.ends_with(".LON"), "{u}");
    }
}
