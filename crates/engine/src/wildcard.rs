//! Windows name matching for QUERY_DIRECTORY patterns (MS-FSA 2.1.4.4 "Algorithm for
//! Determining if a FileName Is in an Expression"): `*`, `?` and the DOS wildcards
//! `<` (DOS_STAR), `>` (DOS_QM) and `"` (DOS_DOT), compared case-insensitively.

pub fn is_match(pattern: &str, name: &str) -> bool {
    if pattern == "*" || pattern.is_empty() {
        return true;
    }
    let p: Vec<char> = pattern.chars().flat_map(char::to_lowercase).collect();
    let n: Vec<char> = name.chars().flat_map(char::to_lowercase).collect();
    matches_at(&p, &n)
}

fn matches_at(p: &[char], n: &[char]) -> bool {
    // Iterative NFA-style matching over positions in the name: the set of name
    // positions reachable after each pattern character.
    let mut states = vec![false; n.len() + 1];
    states[0] = true;
    for (pi, &pc) in p.iter().enumerate() {
        let mut next = vec![false; n.len() + 1];
        for i in 0..=n.len() {
            if !states[i] {
                continue;
            }
            match pc {
                '*' => next[i..].iter_mut().for_each(|s| *s = true),
                '<' => {
                    // Matches up to and including the last dot's predecessor region (DOS_STAR).
                    let last_dot = n.iter().rposition(|&c| c == '.');
                    let rest_has_dot = p[pi + 1..].contains(&'.') || p[pi + 1..].contains(&'"');
                    let end = match (last_dot, rest_has_dot) {
                        (Some(d), _) if d >= i => d,
                        _ => n.len(),
                    };
                    next[i..=end].iter_mut().for_each(|s| *s = true);
                }
                '?' => {
                    if i < n.len() {
                        next[i + 1] = true;
                    }
                }
                '>' => {
                    // DOS_QM: one character, or nothing at a dot or the end.
                    if i < n.len() && n[i] != '.' {
                        next[i + 1] = true;
                    } else {
                        next[i] = true;
                    }
                }
                '"' => {
                    // DOS_DOT: a dot, or nothing at the end of the name.
                    if i < n.len() && n[i] == '.' {
                        next[i + 1] = true;
                    } else if i == n.len() {
                        next[i] = true;
                    }
                }
                c => {
                    if i < n.len() && n[i] == c {
                        next[i + 1] = true;
                    }
                }
            }
        }
        states = next;
    }
    states[n.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn star_and_question() {
        assert!(is_match("*", "anything"));
        assert!(is_match("*.txt", "A.TXT"));
        assert!(!is_match("*.txt", "a.txt.bak"));
        assert!(is_match("a?c", "abc"));
        assert!(!is_match("a?c", "ac"));
        assert!(is_match("file*", "file"));
        assert!(is_match("*x*y", "axbxcy"));
    }

    #[test]
    fn dos_wildcards() {
        assert!(is_match("<.txt", "abc.txt"));
        assert!(is_match("abc\"", "abc"));
        assert!(is_match("abc\"", "abc."));
        assert!(is_match("ab>>", "ab"));
        assert!(is_match("ab>", "abc"));
        assert!(!is_match("ab>", "abcd"));
    }
}
