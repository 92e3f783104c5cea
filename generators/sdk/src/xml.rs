//! XML text as libxml2 (and so createrepo_c) writes it: `&`, `<`, `>` escaped in text, plus
//! `"` and line breaks/tabs as character references in attributes. Characters XML 1.0 cannot
//! carry at all (most C0 controls, U+FFFE, U+FFFF) are dropped, as createrepo_c does.
//! [`escape`] is the one-call form; [`unescape`] reads back what these write.

fn allowed(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{FFFE}' && c != '\u{FFFF}')
}

/// `s` escaped for element text or an attribute value (`"` too), as a new string.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    attr(&mut out, s);
    out
}

/// Appends `s` as element text.
pub fn text(out: &mut String, s: &str) {
    for c in s.chars().filter(|c| allowed(*c)) {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
}

/// Appends `s` as an attribute value (between double quotes).
pub fn attr(out: &mut String, s: &str) {
    for c in s.chars().filter(|c| allowed(*c)) {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c => out.push(c),
        }
    }
}

/// `<name>text</name>` on its own line, indented.
pub fn element(out: &mut String, indent: &str, name: &str, value: &str) {
    out.push_str(indent);
    out.push('<');
    out.push_str(name);
    out.push('>');
    text(out, value);
    out.push_str("</");
    out.push_str(name);
    out.push_str(">\n");
}

/// ` key="value"` for each pair.
pub fn attrs(out: &mut String, pairs: &[(&str, &str)]) {
    for (k, v) in pairs {
        out.push(' ');
        out.push_str(k);
        out.push_str("=\"");
        attr(out, v);
        out.push('"');
    }
}

/// The text of `s` as written by [`text`] or [`attr`] (the five entities and numeric
/// character references).
pub fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let Some(end) = tail.find(';') else {
            out.push_str(tail);
            return out;
        };
        let entity = &tail[1..end];
        let c = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            e => e
                .strip_prefix("#x")
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| e.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match c {
            Some(c) => out.push(c),
            None => out.push_str(&tail[..=end]),
        }
        rest = &tail[end + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        let mut t = String::new();
        text(&mut t, "a<b>&\"c\"\n\r\tx\u{1}\u{7}\u{FFFE}é");
        assert_eq!(t, "a&lt;b&gt;&amp;\"c\"\n&#13;\txé");
        let mut a = String::new();
        attr(&mut a, "a<b>&\"c\"\n\r\tx\u{0}é");
        assert_eq!(a, "a&lt;b&gt;&amp;&quot;c&quot;&#10;&#13;&#9;xé");
        let mut e = String::new();
        element(&mut e, "  ", "url", "http://x/?a=1&b=2");
        assert_eq!(e, "  <url>http://x/?a=1&amp;b=2</url>\n");
        let mut s = String::new();
        attrs(&mut s, &[("name", "a\"b"), ("flags", "EQ")]);
        assert_eq!(s, " name=\"a&quot;b\" flags=\"EQ\"");
        assert_eq!(
            escape("<a href=\"x\">&</a>"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&lt;/a&gt;"
        );
        assert_eq!(unescape(&escape("a<\"&\n\t>")), "a<\"&\n\t>");
    }
}
