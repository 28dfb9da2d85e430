//! Just enough XML (with namespaces) to read WS-Discovery and WS-Transfer requests:
//! elements with their resolved namespace, local name, parent and text. No DTDs, no
//! entities beyond the five predefined ones and character references, bounded size,
//! depth and element count: the input is whatever arrives on the multicast group.

/// Documents longer than this are refused (a SOAP-over-UDP datagram is far smaller).
pub const MAX_DOCUMENT: usize = 64 * 1024;
const MAX_ELEMENTS: usize = 512;
const MAX_DEPTH: usize = 32;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum XmlError {
    #[error("document too large or too deep")]
    TooLarge,
    #[error("malformed XML at byte {0}")]
    Malformed(usize),
    #[error("undeclared namespace prefix")]
    UnboundPrefix,
    #[error("DTDs are not accepted")]
    Doctype,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    pub ns: String,
    pub local: String,
    pub parent: Option<usize>,
    /// Character data directly inside the element, entity references decoded.
    pub text: String,
    /// The namespace bindings in scope (prefix, URI; "" for the default), innermost last.
    pub scope: Vec<(String, String)>,
}

impl Element {
    /// Resolves a QName ("pub:Computer") in this element's scope.
    pub fn resolve(&self, qname: &str) -> Option<(String, String)> {
        let (prefix, local) = qname.split_once(':').unwrap_or(("", qname));
        let ns = self.scope.iter().rev().find(|(p, _)| p == prefix)?.1.clone();
        Some((ns, local.to_string()))
    }
}

/// The elements of `doc` in document order.
pub fn parse(doc: &str) -> Result<Vec<Element>, XmlError> {
    if doc.len() > MAX_DOCUMENT {
        return Err(XmlError::TooLarge);
    }
    let b = doc.as_bytes();
    let mut out: Vec<Element> = Vec::new();
    let mut open: Vec<(usize, String)> = Vec::new();
    let mut at = 0;
    while at < b.len() {
        if b[at] != b'<' {
            let end = doc[at..].find('<').map_or(b.len(), |i| at + i);
            if let Some(&(i, _)) = open.last() {
                out[i].text.push_str(&unescape(&doc[at..end]).ok_or(XmlError::Malformed(at))?);
            } else if !doc[at..end].trim().is_empty() {
                return Err(XmlError::Malformed(at));
            }
            at = end;
            continue;
        }
        let rest = &doc[at..];
        if rest.starts_with("<?") {
            at += skip_past(rest, "?>").ok_or(XmlError::Malformed(at))?;
        } else if rest.starts_with("<!--") {
            at += skip_past(rest, "-->").ok_or(XmlError::Malformed(at))?;
        } else if let Some(cdata) = rest.strip_prefix("<![CDATA[") {
            let end = cdata.find("]]>").ok_or(XmlError::Malformed(at))?;
            let &(i, _) = open.last().ok_or(XmlError::Malformed(at))?;
            out[i].text.push_str(&cdata[..end]);
            at += 9 + end + 3;
        } else if rest.starts_with("<!") {
            return Err(XmlError::Doctype);
        } else if let Some(close) = rest.strip_prefix("</") {
            let end = close.find('>').ok_or(XmlError::Malformed(at))?;
            let (_, name) = open.pop().ok_or(XmlError::Malformed(at))?;
            if close[..end].trim() != name {
                return Err(XmlError::Malformed(at));
            }
            at += 2 + end + 1;
        } else {
            let end = tag_end(rest).ok_or(XmlError::Malformed(at))?;
            let self_closing = rest[..end].ends_with('/');
            let inner = &rest[1..if self_closing { end - 1 } else { end }];
            let parent = open.last().map(|&(i, _)| i);
            let scope = parent.map_or_else(Vec::new, |p| out[p].scope.clone());
            let (qname, element) = start_tag(inner, parent, scope).ok_or(XmlError::Malformed(at))?;
            if out.len() == MAX_ELEMENTS || open.len() == MAX_DEPTH {
                return Err(XmlError::TooLarge);
            }
            out.push(element?);
            if !self_closing {
                open.push((out.len() - 1, qname));
            }
            at += end + 1;
        }
    }
    if !open.is_empty() || out.is_empty() {
        return Err(XmlError::Malformed(b.len()));
    }
    Ok(out)
}

/// The index of the first child of `parent` (None: a root) named (`ns`, `local`).
pub fn child(elements: &[Element], parent: Option<usize>, ns: &str, local: &str) -> Option<usize> {
    elements.iter().position(|e| e.parent == parent && e.ns == ns && e.local == local)
}

fn skip_past(s: &str, end: &str) -> Option<usize> {
    s.find(end).map(|i| i + end.len())
}

/// Offset of the `>` closing the tag at the start of `s`, quotes respected.
fn tag_end(s: &str) -> Option<usize> {
    let mut quote = None;
    for (i, c) in s.char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '>') => return Some(i),
            (None, '<') if i > 0 => return None,
            _ => {}
        }
    }
    None
}

/// The qualified name and the element of a start tag's inside (`p:name a="v" ...`).
fn start_tag(inner: &str, parent: Option<usize>, mut scope: Vec<(String, String)>) -> Option<(String, Result<Element, XmlError>)> {
    let name_end = inner.find(|c: char| c.is_ascii_whitespace()).unwrap_or(inner.len());
    let qname = &inner[..name_end];
    if qname.is_empty() {
        return None;
    }
    let mut rest = inner[name_end..].trim_start();
    while !rest.is_empty() {
        let eq = rest.find('=')?;
        let attr = rest[..eq].trim();
        let after = rest[eq + 1..].trim_start();
        let q = after.chars().next().filter(|c| *c == '"' || *c == '\'')?;
        let close = after[1..].find(q)?;
        let value = unescape(&after[1..1 + close])?;
        if attr == "xmlns" {
            scope.push((String::new(), value));
        } else if let Some(p) = attr.strip_prefix("xmlns:") {
            scope.push((p.to_string(), value));
        }
        rest = after[close + 2..].trim_start();
    }
    let (prefix, local) = qname.split_once(':').unwrap_or(("", qname));
    let ns = match scope.iter().rev().find(|(p, _)| p == prefix) {
        Some((_, uri)) => uri.clone(),
        None if prefix.is_empty() => String::new(),
        None => return Some((qname.to_string(), Err(XmlError::UnboundPrefix))),
    };
    let element = Element { ns, local: local.to_string(), parent, text: String::new(), scope };
    Some((qname.to_string(), Ok(element)))
}

/// Character data with `&lt;`, `&gt;`, `&amp;`, `&quot;`, `&apos;` and `&#N;`/`&#xN;` decoded.
pub fn unescape(s: &str) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let semi = rest[i..].find(';')? + i;
        let entity = &rest[i + 1..semi];
        let c = match entity {
            "lt" => '<',
            "gt" => '>',
            "amp" => '&',
            "quot" => '"',
            "apos" => '\'',
            _ => {
                let n = entity.strip_prefix("#x").map_or_else(|| entity.strip_prefix('#')?.parse().ok(), |h| u32::from_str_radix(h, 16).ok())?;
                char::from_u32(n)?
            }
        };
        out.push(c);
        rest = &rest[semi + 1..];
    }
    out.push_str(rest);
    Some(out)
}

/// Text escaped for element content and attribute values.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&apos;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elements_namespaces_and_text() {
        let doc = r#"<?xml version="1.0"?><a:Env xmlns:a="urn:a" xmlns="urn:d"><!-- c --><b x='1'>t &amp; &#x41;<![CDATA[<z>]]></b><a:c/></a:Env>"#;
        let e = parse(doc).unwrap();
        assert_eq!(e.len(), 3);
        assert_eq!((e[0].ns.as_str(), e[0].local.as_str(), e[0].parent), ("urn:a", "Env", None));
        assert_eq!((e[1].ns.as_str(), e[1].text.as_str(), e[1].parent), ("urn:d", "t & A<z>", Some(0)));
        assert_eq!(child(&e, Some(0), "urn:a", "c"), Some(2));
        assert_eq!(e[2].resolve("a:Thing"), Some(("urn:a".into(), "Thing".into())));
        assert_eq!(e[2].resolve("q:Thing"), None);
    }

    #[test]
    fn malformed_documents_are_errors() {
        for bad in ["", "<a>", "<a></b>", "<a", "</a>", "<a>x</a>y", "<p:a/>", "<a b=1/>", "<a>&bogus;</a>", "<a>&#xFFFFFFFF;</a>"] {
            assert!(parse(bad).is_err(), "{bad:?} parsed");
        }
        assert_eq!(parse("<!DOCTYPE a [<!ENTITY x 'y'>]><a/>"), Err(XmlError::Doctype));
        let deep = "<a>".repeat(40) + &"</a>".repeat(40);
        assert_eq!(parse(&deep), Err(XmlError::TooLarge));
        let wide = format!("<r>{}</r>", "<a/>".repeat(600));
        assert_eq!(parse(&wide), Err(XmlError::TooLarge));
    }

    #[test]
    fn escape_and_unescape_agree() {
        let s = "a<b>&\"c'";
        assert_eq!(unescape(&escape(s)).unwrap(), s);
    }
}
