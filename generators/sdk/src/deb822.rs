//! RFC 822 style paragraphs as Debian writes them (deb822: control files, Packages, Release,
//! `.sources`): `Field: value` lines, continuation lines starting with a space or tab, a blank
//! line between paragraphs, `#` comment lines. Parsing keeps fields in order and as written;
//! writing folds a multi-line value into continuation lines.

/// One field. `lines[0]` is the value on the field's own line (without leading whitespace),
/// the rest are continuation lines as written (leading whitespace kept). Trailing whitespace
/// is trimmed everywhere: no reader cares, and it keeps what is rendered byte-stable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    pub name: String,
    pub lines: Vec<String>,
}

impl Field {
    /// The value on the field's own line.
    pub fn value(&self) -> &str {
        self.lines.first().map_or("", String::as_str)
    }

    /// The whole value: its lines joined with `\n`, continuation lines without their indent.
    pub fn text(&self) -> String {
        let mut lines = self.lines.iter();
        let mut out = lines.next().cloned().unwrap_or_default();
        for l in lines {
            out.push('\n');
            out.push_str(l.trim_start());
        }
        out
    }

    /// Appends the field as it was read.
    pub fn render(&self, out: &mut String) {
        out.push_str(&self.name);
        out.push(':');
        let mut lines = self.lines.iter();
        if let Some(first) = lines.next() {
            if !first.is_empty() {
                out.push(' ');
                out.push_str(first);
            }
        }
        out.push('\n');
        for line in lines {
            out.push_str(line);
            out.push('\n');
        }
    }
}

/// One paragraph: its fields in order, and the line its first field is on (from 1).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Paragraph {
    pub fields: Vec<Field>,
    pub line: usize,
}

impl Paragraph {
    /// A field by name (case-insensitive, as deb822 says).
    pub fn get(&self, name: &str) -> Option<&Field> {
        self.fields
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(name))
    }
}

/// Every paragraph of `text`. A leading BOM and CR before LF are ignored. Errors name the line
/// (`line 3: ...`), for the caller to say which file: a continuation line before any field, a
/// line that is no `Field: value`, a field name deb822 does not allow, a field twice in one
/// paragraph.
pub fn parse(text: &str) -> Result<Vec<Paragraph>, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out: Vec<Paragraph> = Vec::new();
    let mut open = false;
    for (i, raw) in text.split('\n').enumerate() {
        let n = i + 1;
        let line = raw.trim_end();
        if line.is_empty() {
            // A blank (or whitespace-only) line ends the paragraph.
            open = false;
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        if line.starts_with([' ', '\t']) {
            let field = out
                .last_mut()
                .filter(|_| open)
                .and_then(|p| p.fields.last_mut())
                .ok_or_else(|| format!("line {n}: continuation line before any field"))?;
            field.lines.push(line.to_string());
            continue;
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| format!("line {n}: expected \"Field: value\", got {:?}", clip(line)))?;
        if !valid_name(name) {
            return Err(format!("line {n}: invalid field name {:?}", clip(name)));
        }
        if !open {
            out.push(Paragraph {
                fields: Vec::new(),
                line: n,
            });
            open = true;
        }
        let p = out.last_mut().expect("a paragraph is open");
        if p.get(name).is_some() {
            return Err(format!("line {n}: a duplicate {name} field"));
        }
        p.fields.push(Field {
            name: name.to_string(),
            lines: vec![value.trim_start().to_string()],
        });
    }
    Ok(out)
}

/// deb822: printable ASCII without spaces or colons, not starting with `-` or `#`.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(['-', '#'])
        && name.bytes().all(|b| b.is_ascii_graphic() && b != b':')
}

/// Keeps error messages short when a line is huge.
pub fn clip(s: &str) -> String {
    match s.char_indices().nth(60) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_string(),
    }
}

/// Free text for a single-line field: runs of whitespace (line breaks too, which would end
/// the field) become one space.
pub fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Appends `Name: value`, `value` made one line ([`one_line`]).
pub fn field(out: &mut String, name: &str, value: &str) {
    multiline(out, name, value, "");
}

/// Appends a multi-line field: `first` on the field's own line (empty: nothing after the
/// colon), then each line of `text` indented by one space, an empty line written ` .` (so
/// that it does not end the paragraph), trailing whitespace trimmed.
pub fn multiline(out: &mut String, name: &str, first: &str, text: &str) {
    out.push_str(name);
    out.push(':');
    let first = one_line(first);
    if !first.is_empty() {
        out.push(' ');
        out.push_str(&first);
    }
    out.push('\n');
    for line in text.lines() {
        let line = line.trim_end();
        out.push(' ');
        out.push_str(if line.is_empty() { "." } else { line });
        out.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paragraphs_with_continuations() {
        let ps = parse(
            "\u{feff}# comment\nPackage: hello  \r\nDepends: libc6,\n libfoo \t\nDescription: greets\n Long text.\n .\n More.\n\n\n\
             Package: two\nConffiles:\n /etc/a 123\n",
        )
        .unwrap();
        assert_eq!(ps.len(), 2);
        assert_eq!((ps[0].line, ps[1].line), (2, 11));
        assert_eq!(ps[0].get("package").unwrap().value(), "hello");
        assert_eq!(ps[0].get("Depends").unwrap().lines, ["libc6,", " libfoo"]);
        assert_eq!(
            ps[0].get("Description").unwrap().text(),
            "greets\nLong text.\n.\nMore."
        );
        let mut out = String::new();
        for f in &ps[1].fields {
            f.render(&mut out);
        }
        assert_eq!(out, "Package: two\nConffiles:\n /etc/a 123\n");
        assert_eq!(parse("").unwrap(), []);
        assert_eq!(parse("\n \n").unwrap(), []);
    }

    #[test]
    fn errors_name_the_line() {
        let err = |s: &str| parse(s).unwrap_err();
        assert_eq!(
            err(" leading\n"),
            "line 1: continuation line before any field"
        );
        assert_eq!(
            err("A: 1\n\n more\n"),
            "line 3: continuation line before any field"
        );
        assert!(err("A: 1\nPackage hello\n").starts_with("line 2: expected \"Field: value\""));
        assert_eq!(err("A: a\na: b\n"), "line 2: a duplicate a field");
        assert!(parse("A: a\n\na: b\n").is_ok());
        assert!(err("Pack age: a\n").contains("invalid field name"));
        assert!(err(&"x".repeat(10_000)).len() < 200);
    }

    #[test]
    fn writing_folds() {
        let mut out = String::new();
        field(&mut out, "Description", "two\nlines  here");
        field(&mut out, "Empty", " ");
        multiline(
            &mut out,
            "Signed-By",
            "",
            "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmDMEZx  \n-----END-----\n",
        );
        assert_eq!(
            out,
            "Description: two lines here\nEmpty:\nSigned-By:\n -----BEGIN PGP PUBLIC KEY BLOCK-----\n .\n mDMEZx\n -----END-----\n"
        );
        // What is written reads back.
        let p = &parse(&out).unwrap()[0];
        assert_eq!(
            p.get("signed-by").unwrap().text(),
            "\n-----BEGIN PGP PUBLIC KEY BLOCK-----\n.\nmDMEZx\n-----END-----"
        );
    }
}
