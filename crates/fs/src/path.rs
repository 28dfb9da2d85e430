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
    /// A named data stream of the last component (MS-FSCC 2.1.5.3), as given.
    stream: Option<String>,
    /// The name ended in an explicit `:$DATA` (named or default stream).
    data_type: bool,
}

impl SmbPath {
    /// Parses a backslash-separated name.
    ///
    /// * `""` is the share root.
    /// * One trailing `\` is allowed and means "a directory"; any other empty
    ///   component (leading `\`, `\\`) is `InvalidName`.
    /// * `..` takes back the component before it, as Windows does (`a\..\b` is
    ///   `b`); one that would climb above the share root is `PathSyntaxBad`.
    ///   `.` is `InvalidName`.
    /// * Characters invalid in a Windows file name (MS-FSCC 2.1.5.2:
    ///   0x00-0x1F, `" * / : < > ? \ |`) are `InvalidName`, so wildcards and
    ///   `/` are refused in file names.
    /// * The last component may name a data stream (MS-FSCC 2.1.5.3):
    ///   `name:stream`, `name:stream:$DATA` or `name::$DATA` (the default
    ///   stream, the same as `name`). A stream type other than `$DATA`
    ///   (case-insensitive), an empty stream name without a type
    ///   (`name:`), a stream on the share root (`:s`), a stream with a
    ///   trailing `\` and any other `:` are `InvalidName`. Stream names may
    ///   hold any character but NUL, `/`, `:` and `\` (wildcards and control
    ///   characters are fine, as on NTFS) and are at most 255 UTF-16 units.
    /// * A component longer than 255 UTF-16 code units or 255 UTF-8 bytes is
    ///   `NameTooLong`.
    /// * Trailing spaces and dots are kept as they are.
    pub fn parse(name: &str) -> Result<SmbPath, FsError> {
        if name.is_empty() {
            return Ok(SmbPath {
                components: Vec::new(),
                trailing: false,
                stream: None,
                data_type: false,
            });
        }
        let (body, trailing) = match name.strip_suffix('\\') {
            Some(b) => (b, true),
            None => (name, false),
        };
        let parts: Vec<&str> = body.split('\\').collect();
        let last = parts.len() - 1;
        let mut components = Vec::with_capacity(parts.len());
        let (mut stream, mut data_type) = (None, false);
        for (i, part) in parts.iter().enumerate() {
            let part = if i == last {
                let (base, s, t) = split_stream_suffix(part)?;
                if (s.is_some() || t) && trailing {
                    return Err(FsError::InvalidName);
                }
                (stream, data_type) = (s.map(str::to_string), t);
                base
            } else {
                part
            };
            if part == ".." && !(i == last && (stream.is_some() || data_type)) {
                components.pop().ok_or(FsError::PathSyntaxBad)?;
                continue;
            }
            check_component(part)?;
            components.push(part.to_string());
        }
        Ok(SmbPath {
            components,
            trailing,
            stream,
            data_type,
        })
    }

    /// Parses the target of a stream rename (MS-FSA 2.1.5.14.11, a name
    /// that starts with ':'): ":name", ":name:$DATA" give `Some(name)`,
    /// "::$DATA" gives `None` (the default stream); anything else is
    /// `InvalidName`.
    pub fn parse_stream_target(name: &str) -> Result<Option<String>, FsError> {
        if !name.starts_with(':') {
            return Err(FsError::InvalidName);
        }
        let full = format!("x{name}");
        let (_, stream, _) = split_stream_suffix(&full)?;
        Ok(stream.map(str::to_string))
    }

    /// The named stream the path ends in; `None` for the default stream.
    pub fn stream(&self) -> Option<&str> {
        self.stream.as_deref()
    }

    /// Whether the client named a data stream explicitly: a named stream, or
    /// the default one as `name::$DATA` (which cannot open a directory).
    pub fn explicit_data_stream(&self) -> bool {
        self.stream.is_some() || self.data_type
    }

    /// The same path without its stream suffix (the base file or directory).
    pub fn base(&self) -> SmbPath {
        SmbPath {
            components: self.components.clone(),
            trailing: self.trailing,
            stream: None,
            data_type: false,
        }
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

/// Splits `base[:stream[:type]]` into the base name, the stream name
/// (`None` for the default stream) and whether a `:$DATA` type was given.
/// The base is checked by the caller.
fn split_stream_suffix(part: &str) -> Result<(&str, Option<&str>, bool), FsError> {
    let mut it = part.splitn(3, ':');
    let base = it.next().unwrap_or("");
    let Some(stream) = it.next() else {
        return Ok((part, None, false));
    };
    let typed = match it.next() {
        None => false,
        Some(t) if t.eq_ignore_ascii_case("$DATA") => true,
        Some(_) => return Err(FsError::InvalidName),
    };
    if base.is_empty() || (stream.is_empty() && !typed) {
        return Err(FsError::InvalidName);
    }
    if stream.is_empty() {
        return Ok((base, None, true));
    }
    check_stream_name(stream)?;
    Ok((base, Some(stream), typed))
}

/// Validates a stream name (without `:` and type): not empty, no NUL, `/`,
/// `\` or `:`, at most 255 UTF-16 units.
pub fn check_stream_name(name: &str) -> Result<(), FsError> {
    if name.is_empty() || name.contains(['\0', '/', '\\', ':']) {
        return Err(FsError::InvalidName);
    }
    if name.encode_utf16().count() > MAX_COMPONENT {
        return Err(FsError::NameTooLong);
    }
    Ok(())
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
        assert_eq!(SmbPath::parse("a\\..\\b").unwrap().components(), ["b"]);
        assert!(SmbPath::parse("a\\b\\..\\..").unwrap().is_root());
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
        let long_stream = format!("f:{}", "x".repeat(256));
        type Expect = fn(&FsError) -> bool;
        let cases: &[(&str, Expect)] = &[
            ("\\", |e| matches!(e, InvalidName)),
            ("\\abs", |e| matches!(e, InvalidName)),
            ("a\\\\b", |e| matches!(e, InvalidName)),
            ("a\\\\", |e| matches!(e, InvalidName)),
            ("..", |e| matches!(e, PathSyntaxBad)),
            ("..\\x", |e| matches!(e, PathSyntaxBad)),
            ("a\\..\\..\\b", |e| matches!(e, PathSyntaxBad)),
            (".", |e| matches!(e, InvalidName)),
            ("a\\.\\b", |e| matches!(e, InvalidName)),
            ("a/b", |e| matches!(e, InvalidName)),
            ("/etc/passwd", |e| matches!(e, InvalidName)),
            ("C:\\x", |e| matches!(e, InvalidName)),
            ("dir::$DATA\\x", |e| matches!(e, InvalidName)),
            ("dir:s\\x", |e| matches!(e, InvalidName)),
            ("::$DATA", |e| matches!(e, InvalidName)),
            (":s", |e| matches!(e, InvalidName)),
            (":s:$DATA", |e| matches!(e, InvalidName)),
            ("f::$INDEX_ALLOCATION", |e| matches!(e, InvalidName)),
            ("f:s:$INDEX_ALLOCATION", |e| matches!(e, InvalidName)),
            ("f:s:$FOO", |e| matches!(e, InvalidName)),
            ("f:s:", |e| matches!(e, InvalidName)),
            ("f:", |e| matches!(e, InvalidName)),
            ("f::", |e| matches!(e, InvalidName)),
            ("f:s:$DATA:x", |e| matches!(e, InvalidName)),
            ("f:s/x", |e| matches!(e, InvalidName)),
            ("f:s\u{0}x", |e| matches!(e, InvalidName)),
            ("f:s\\", |e| matches!(e, InvalidName)),
            ("f::$DATA\\", |e| matches!(e, InvalidName)),
            ("f*:s", |e| matches!(e, InvalidName)),
            ("..:x", |e| matches!(e, PathSyntaxBad)),
            (".:x", |e| matches!(e, InvalidName)),
            ("..\\f:x", |e| matches!(e, PathSyntaxBad)),
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
            (&long_stream, |e| matches!(e, NameTooLong)),
        ];
        for (name, ok) in cases {
            let err = SmbPath::parse(name).expect_err(name);
            assert!(ok(&err), "{name:?} gave {err:?}");
        }
    }

    #[test]
    fn stream_suffixes() {
        // (name, components, stream, explicit $DATA)
        let max = "é".repeat(255); // 255 UTF-16 units, 510 bytes: fine for a stream
        let cases: Vec<(String, Vec<&str>, Option<&str>, bool)> = vec![
            ("f".into(), vec!["f"], None, false),
            ("f::$DATA".into(), vec!["f"], None, true),
            ("d\\f::$dAtA".into(), vec!["d", "f"], None, true),
            ("f:s".into(), vec!["f"], Some("s"), false),
            ("f:Stream One:$DATA".into(), vec!["f"], Some("Stream One"), true),
            ("d\\f:s:$data".into(), vec!["d", "f"], Some("s"), true),
            ("f:?Stream*".into(), vec!["f"], Some("?Stream*"), false),
            ("f:\u{5}Stream\n One".into(), vec!["f"], Some("\u{5}Stream\n One"), false),
            ("f:<>|\"".into(), vec!["f"], Some("<>|\""), false),
            (format!("f:{max}"), vec!["f"], Some(max.as_str()), false),
            ("f:$DATA".into(), vec!["f"], Some("$DATA"), false),
        ];
        for (name, comps, stream, typed) in &cases {
            let p = SmbPath::parse(name).unwrap_or_else(|e| panic!("{name:?}: {e:?}"));
            assert_eq!(p.components(), comps.as_slice(), "{name:?}");
            assert_eq!(p.stream(), *stream, "{name:?}");
            assert_eq!(p.explicit_data_stream(), *typed || stream.is_some(), "{name:?}");
            assert_eq!(p.base().stream(), None);
            assert_eq!(p.base().components(), p.components());
            assert_eq!(p.to_rel(), comps.join("/"), "the stream is never part of the on-disk path");
        }
    }

    #[test]
    fn case_insensitive_names() {
        assert!(eq_ignore_case("Straße.TXT", "straße.txt"));
        assert!(eq_ignore_case("ÄÖ", "äö"));
        assert!(!eq_ignore_case("a", "b"));
    }
}
