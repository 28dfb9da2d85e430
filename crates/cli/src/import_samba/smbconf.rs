//! Reading smb.conf(5) as Samba does: `[section]` headers, `name = value` lines whose
//! names are case-insensitive and ignore spaces and underscores ("read only",
//! "readonly" and "READ_ONLY" are one parameter), `#` and `;` comments, and a trailing
//! `\` continuing a line. Values keep their inner spaces. Pure: text in, sections out.

/// One `[section]` with its parameters in file order; `line` is where it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub name: String,
    pub line: usize,
    pub params: Vec<Param>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    /// The name as written (for messages).
    pub written: String,
    /// Lower case, without spaces or underscores (for matching).
    pub key: String,
    pub value: String,
    pub line: usize,
}

impl Section {
    /// The last value given for `key` (normalised, see [`normalise`]).
    pub fn get(&self, key: &str) -> Option<&Param> {
        let k = normalise(key);
        self.params.iter().rev().find(|p| p.key == k)
    }
}

/// A parameter name as Samba compares them.
pub fn normalise(name: &str) -> String {
    name.chars().filter(|c| !c.is_whitespace() && *c != '_').flat_map(char::to_lowercase).collect()
}

/// Splits `text` into sections. Parameters before the first header belong to
/// `[global]`, as in Samba. A line that is neither a header, a comment nor `name =
/// value` is an error naming its line number.
pub fn parse(text: &str) -> Result<Vec<Section>, String> {
    let mut sections: Vec<Section> = Vec::new();
    let mut lines = text.lines().enumerate().peekable();
    while let Some((i, raw)) = lines.next() {
        let number = i + 1;
        let mut line = raw.trim().to_string();
        while line.ends_with('\\') {
            line.pop();
            match lines.next() {
                Some((_, more)) => line.push_str(more.trim()),
                None => break,
            }
        }
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(rest) = line.strip_prefix('[') {
            let name = rest.split(']').next().unwrap_or("").trim();
            if name.is_empty() || !rest.contains(']') {
                return Err(format!("line {number}: bad section header {line:?}"));
            }
            sections.push(Section { name: name.to_string(), line: number, params: Vec::new() });
            continue;
        }
        let Some((name, value)) = line.split_once('=') else {
            return Err(format!("line {number}: expected `name = value`, found {line:?}"));
        };
        if sections.is_empty() {
            sections.push(Section { name: "global".into(), line: number, params: Vec::new() });
        }
        let section = sections.last_mut().expect("a section");
        section.params.push(Param {
            written: name.trim().to_string(),
            key: normalise(name),
            value: value.trim().to_string(),
            line: number,
        });
    }
    Ok(sections)
}

/// An smb.conf boolean (yes/no, true/false, on/off, 1/0; any case).
pub fn boolean(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "yes" | "true" | "on" | "1" => Some(true),
        "no" | "false" | "off" | "0" => Some(false),
        _ => None,
    }
}

/// A list value as Samba splits it: on commas and white space.
pub fn list(v: &str) -> Vec<String> {
    v.split(|c: char| c == ',' || c.is_whitespace()).filter(|s| !s.is_empty()).map(str::to_string).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_names_comments_and_continuations() {
        let text = "workgroup = HOME\n# c\n[global]\n  Server  Signing = mandatory\n; c\n[Docs]\nread_only = No\npath = /srv/my docs\ncomment = a \\\n  long one\n";
        let s = parse(text).unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!((s[0].name.as_str(), s[0].params[0].key.as_str()), ("global", "workgroup"));
        assert_eq!(s[1].get("server signing").unwrap().value, "mandatory");
        assert_eq!(s[2].get("READ ONLY").unwrap().value, "No");
        assert_eq!(s[2].get("path").unwrap().value, "/srv/my docs");
        assert_eq!(s[2].get("comment").unwrap().value, "a long one");
        assert_eq!(s[2].get("readonly").unwrap().line, 7);
    }

    #[test]
    fn bad_lines_are_named() {
        assert!(parse("[ok]\njust words\n").unwrap_err().contains("line 2"));
        assert!(parse("[broken\n").unwrap_err().contains("line 1"));
    }

    #[test]
    fn values() {
        assert_eq!(boolean("Yes"), Some(true));
        assert_eq!(boolean("off"), Some(false));
        assert_eq!(boolean("auto"), None);
        assert_eq!(list("alice, bob  @staff"), vec!["alice", "bob", "@staff"]);
    }
}
