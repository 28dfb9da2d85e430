//! Client path names (MS-SMB2 2.2.13 `Buffer` name, MS-FSCC 2.1.5 pathname rules).

use crate::error::FsError;

/// Longest component, in UTF-16 code units (MS-FSCC 2.1.5.2) and in UTF-8
/// bytes (what Linux file systems store).
pub const MAX_COMPONENT: usize = 255;

/// A parsed, validated path relative to the share root.
///
/// The caller converts the UTF-16 name to a `String` and strips nothing;
/// [`SmbPath::parse`] applies the MS-FSCC 2.1.5 naming rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmbPath {
    components: Vec<String>,
    trailing: bool,
}

impl SmbPath {
    /// Parses a backslash-separated name.
    ///
    /// * `""` is the share root.
    /// * One trailing `\` is allowed and means "a directory"; any other empty
    ///   component (leading `\`, `\\`) is `InvalidName`.
    /// * `..` is `PathSyntaxBad`, `.` is `InvalidName`.
    /// * Characters invalid in a Windows file name (MS-FSCC 2.1.5.2:
    ///   0x00-0x1F, `" * / : < > ? \ |`) are `InvalidName`, so wildcards and
    ///   `/` are refused; the only `:` allowed is a final `name::$DATA`
    ///   (the default data stream, MS-FSCC 2.1.5.3), which is stripped.
    ///   Named streams are not supported and are `InvalidName`.
    /// * A component longer than 255 UTF-16 code units or 255 UTF-8 bytes is
    ///   `NameTooLong`.
    /// * Trailing spaces and dots are kept as they are.
    pub fn parse(name: &str) -> Result<SmbPath, FsError> {
        if name.is_empty() {
            return Ok(SmbPath {
                components: Vec::new(),
                trailing: false,
            });
        }
        let (body, trailing) = match name.strip_suffix('\\') {
            Some(b) => (b, true),
            None => (name, false),
        };
        let parts: Vec<&str> = body.split('\\').collect();
        let last = parts.len() - 1;
        let mut components = Vec::with_capacity(parts.len());
        for (i, part) in parts.iter().enumerate() {
            let part = if i == last {
                strip_default_stream(part)?
            } else {
                part
            };
            check_component(part)?;
            components.push(part.to_string());
        }
        Ok(SmbPath {
            components,
            trailing,
        })
    }

    /// The share root itself.
    pub fn is_root(&self) -> bool {
        self.components.is_empty()
    }

    /// The components, in order, without separators.
    pub fn components(&self) -> &[String] {
        &self.components
    }

    /// The last component; `None` for the root.
    pub fn file_name(&self) -> Option<&str> {
        self.components.last().map(String::as_str)
    }

    /// Whether the name ended in `\` (the object must be a directory).
    pub fn trailing_separator(&self) -> bool {
        self.trailing
    }

    /// The components joined with `/`, as given by the client.
    pub fn to_rel(&self) -> String {
        self.components.join("/")
    }
}

/// Strips a final `::$DATA` (case-insensitive). Any other `:` is left for
/// `check_component` to refuse.
fn strip_default_stream(part: &str) -> Result<&str, FsError> {
    let Some(pos) = part.find(':') else {
        return Ok(part);
    };
    let (base, stream) = part.split_at(pos);
    if stream.eq_ignore_ascii_case("::$DATA") && !base.is_empty() {
        Ok(base)
    } else {
        Err(FsError::InvalidName)
    }
}

/// Whether `c` may appear in a Windows file name (MS-FSCC 2.1.5.2).
pub fn valid_char(c: char) -> bool {
    !(c < '\u{20}' || matches!(c, '"' | '*' | '/' | ':' | '<' | '>' | '?' | '\\' | '|'))
}

/// Validates one component.
pub fn check_component(part: &str) -> Result<(), FsError> {
    match part {
        "" | "." => return Err(FsError::InvalidName),
        ".." => return Err(FsError::PathSyntaxBad),
        _ => {}
    }
    if !part.chars().all(valid_char) {
        return Err(FsError::InvalidName);
    }
    if part.len() > MAX_COMPONENT || part.encode_utf16().count() > MAX_COMPONENT {
        return Err(FsError::NameTooLong);
    }
    Ok(())
}

/// Splits an on-disk relative path ('/'-separated, as returned in
/// `Opened::rel_path`) into its components, refusing anything that is not a
/// plain relative path ("", ".", "..", empty components, NUL).
pub fn split_rel(rel: &str) -> Result<Vec<&str>, FsError> {
    if rel.is_empty() {
        return Ok(Vec::new());
    }
    let parts: Vec<&str> = rel.split('/').collect();
    for p in &parts {
        if p.is_empty() || *p == "." || *p == ".." || p.contains('\0') {
            return Err(FsError::InvalidName);
        }
    }
    Ok(parts)
}

/// Joins a relative directory path and a name with '/'.
pub fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

/// Splits a relative path into (parent, last component).
pub fn split_last(rel: &str) -> (&str, &str) {
    match rel.rfind('/') {
        Some(i) => (&rel[..i], &rel[i + 1..]),
        None => ("", rel),
    }
}

/// Name comparison ignoring case (Unicode simple lowercase).
pub fn eq_ignore_case(a: &str, b: &str) -> bool {
    a == b
        || a.chars()
            .flat_map(char::to_lowercase)
            .eq(b.chars().flat_map(char::to_lowercase))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_names() {
        assert!(SmbPath::parse("").unwrap().is_root());
        let p = SmbPath::parse("dir\\sub\\file.txt").unwrap();
        assert_eq!(p.components(), ["dir", "sub", "file.txt"]);
        assert_eq!(p.file_name(), Some("file.txt"));
        assert!(!p.trailing_separator());
        let p = SmbPath::parse("dir\\").unwrap();
        assert_eq!(p.components(), ["dir"]);
        assert!(p.trailing_separator());
        let p = SmbPath::parse("a\\file::$DATA").unwrap();
        assert_eq!(p.components(), ["a", "file"]);
        assert_eq!(SmbPath::parse("f::$data").unwrap().file_name(), Some("f"));
        assert_eq!(
            SmbPath::parse("trail. ").unwrap().file_name(),
            Some("trail. ")
        );
        assert_eq!(
            SmbPath::parse("ünïcødé 名前").unwrap().file_name(),
            Some("ünïcødé 名前")
        );
        assert_eq!(SmbPath::parse("dir\\f").unwrap().to_rel(), "dir/f");
        let max = "x".repeat(255);
        assert!(SmbPath::parse(&max).is_ok());
    }

    #[test]
    fn invalid_names_table() {
        use FsError::*;
        let long = "x".repeat(256);
        let long_utf8 = "é".repeat(128); // 128 UTF-16 units but 256 bytes
        let cases: &[(&str, fn(&FsError) -> bool)] = &[
            ("\\", |e| matches!(e, InvalidName)),
            ("\\abs", |e| matches!(e, InvalidName)),
            ("a\\\\b", |e| matches!(e, InvalidName)),
            ("a\\\\", |e| matches!(e, InvalidName)),
            ("..", |e| matches!(e, PathSyntaxBad)),
            ("..\\x", |e| matches!(e, PathSyntaxBad)),
            ("a\\..\\b", |e| matches!(e, PathSyntaxBad)),
            (".", |e| matches!(e, InvalidName)),
            ("a\\.\\b", |e| matches!(e, InvalidName)),
            ("a/b", |e| matches!(e, InvalidName)),
            ("/etc/passwd", |e| matches!(e, InvalidName)),
            ("C:\\x", |e| matches!(e, InvalidName)),
            ("file:stream", |e| matches!(e, InvalidName)),
            ("file:stream:$DATA", |e| matches!(e, InvalidName)),
            ("dir::$DATA\\x", |e| matches!(e, InvalidName)),
            ("::$DATA", |e| matches!(e, InvalidName)),
            ("f::$INDEX_ALLOCATION", |e| matches!(e, InvalidName)),
            ("*.txt", |e| matches!(e, InvalidName)),
            ("a?", |e| matches!(e, InvalidName)),
            ("a<b", |e| matches!(e, InvalidName)),
            ("a>b", |e| matches!(e, InvalidName)),
            ("a|b", |e| matches!(e, InvalidName)),
            ("a\"b", |e| matches!(e, InvalidName)),
            ("a\u{0}b", |e| matches!(e, InvalidName)),
            ("a\u{1f}b", |e| matches!(e, InvalidName)),
            ("a\tb", |e| matches!(e, InvalidName)),
            (&long, |e| matches!(e, NameTooLong)),
            (&long_utf8, |e| matches!(e, NameTooLong)),
        ];
        for (name, ok) in cases {
            let err = SmbPath::parse(name).expect_err(name);
            assert!(ok(&err), "{name:?} gave {err:?}");
        }
    }

    #[test]
    fn rel_helpers() {
        assert_eq!(split_rel("a/b").unwrap(), ["a", "b"]);
        assert!(split_rel("").unwrap().is_empty());
        for bad in ["/a", "a/", "a//b", "../a", "a/./b", "a\0"] {
            assert!(split_rel(bad).is_err(), "{bad:?}");
        }
        assert_eq!(split_last("a/b/c"), ("a/b", "c"));
        assert_eq!(split_last("c"), ("", "c"));
        assert_eq!(join("", "x"), "x");
        assert_eq!(join("a", "x"), "a/x");
        assert!(eq_ignore_case("Straße.TXT", "straße.txt"));
        assert!(eq_ignore_case("ÄÖ", "äö"));
        assert!(!eq_ignore_case("a", "b"));
    }
}
