//! The deb822 control file of a binary package: one paragraph of `Field: value` lines with
//! continuation lines, kept in the original order so the Packages stanza reproduces it.

/// One field. `lines[0]` is the value on the field's own line (without leading whitespace),
/// the rest are continuation lines as written (leading whitespace kept). Trailing whitespace
/// is trimmed everywhere: apt does not care, and it keeps the index byte-stable.
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

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Control {
    pub fields: Vec<Field>,
}

impl Control {
    /// Parses the control file. Invalid UTF-8 is replaced rather than rejected: dpkg does not
    /// check encodings, and old packages carry Latin-1 maintainer names.
    pub fn parse(data: &[u8]) -> Result<Control, String> {
        let text = String::from_utf8_lossy(data);
        let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
        let mut fields: Vec<Field> = Vec::new();
        let mut ended = false;
        for (i, raw) in text.split('\n').enumerate() {
            let n = i + 1;
            let line = raw.trim_end();
            if line.is_empty() {
                // A blank (or whitespace-only) line ends the paragraph.
                ended = !fields.is_empty();
                continue;
            }
            if line.starts_with('#') {
                continue;
            }
            if ended {
                return Err(format!(
                    "control file has more than one paragraph (line {n})"
                ));
            }
            if line.starts_with([' ', '\t']) {
                let field = fields.last_mut().ok_or_else(|| {
                    format!("control file line {n}: continuation line before any field")
                })?;
                field.lines.push(line.to_string());
                continue;
            }
            let (name, value) = line.split_once(':').ok_or_else(|| {
                format!(
                    "control file line {n}: expected \"Field: value\", got {:?}",
                    clip(line)
                )
            })?;
            if !valid_field_name(name) {
                return Err(format!(
                    "control file line {n}: invalid field name {:?}",
                    clip(name)
                ));
            }
            if fields.iter().any(|f| f.name.eq_ignore_ascii_case(name)) {
                return Err(format!("control file has a duplicate {name} field"));
            }
            fields.push(Field {
                name: name.to_string(),
                lines: vec![value.trim_start().to_string()],
            });
        }
        if fields.is_empty() {
            return Err("control file is empty".into());
        }
        Ok(Control { fields })
    }

    /// A field by name (case-insensitive, as deb822 says).
    pub fn get(&self, name: &str) -> Option<&Field> {
        self.fields
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(name))
    }

    /// The single-line value of a mandatory field.
    pub fn required(&self, name: &str) -> Result<&str, String> {
        let field = self
            .get(name)
            .ok_or_else(|| format!("control file has no {name} field"))?;
        match field.value() {
            "" => Err(format!("control file has an empty {name} field")),
            v => Ok(v),
        }
    }
}

/// deb822: printable ASCII without spaces or colons, not starting with `-` or `#`.
fn valid_field_name(name: &str) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_fields_in_order_with_continuations() {
        let c = Control::parse(
            b"Package: hello  \nVersion: 2.10-3\nArchitecture: amd64\nDepends: libc6 (>= 2.34),\n libfoo \t\nDescription: greets\n Long text.\n .\n More.   \n\n",
        )
        .unwrap();
        let names: Vec<_> = c.fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "Package",
                "Version",
                "Architecture",
                "Depends",
                "Description"
            ]
        );
        assert_eq!(c.required("package").unwrap(), "hello");
        assert_eq!(
            c.get("Depends").unwrap().lines,
            ["libc6 (>= 2.34),", " libfoo"]
        );
        let mut out = String::new();
        c.get("Description").unwrap().render(&mut out);
        assert_eq!(out, "Description: greets\n Long text.\n .\n More.\n");
    }

    #[test]
    fn crlf_bom_and_empty_first_line() {
        let c = Control::parse(b"\xef\xbb\xbfPackage: a\r\nConffiles:\r\n /etc/a 123\r\n").unwrap();
        let mut out = String::new();
        for f in &c.fields {
            f.render(&mut out);
        }
        assert_eq!(out, "Package: a\nConffiles:\n /etc/a 123\n");
    }

    #[test]
    fn rejects_malformed() {
        let err = |s: &[u8]| Control::parse(s).unwrap_err();
        assert_eq!(err(b""), "control file is empty");
        assert_eq!(err(b"\n \n"), "control file is empty");
        assert!(err(b" leading\n").contains("continuation line before any field"));
        assert!(err(b"Package hello\n").contains("line 1: expected \"Field: value\""));
        assert!(err(b"Package: a\npackage: b\n").contains("duplicate package field"));
        assert!(err(b"Package: a\n\nPackage: b\n").contains("more than one paragraph (line 3)"));
        assert!(err(b"Pack age: a\n").contains("invalid field name"));
        let long = format!("{}\n", "x".repeat(10_000));
        assert!(err(long.as_bytes()).len() < 200);
    }

    #[test]
    fn required_fields() {
        let c = Control::parse(b"Package: a\nVersion:\n").unwrap();
        assert_eq!(
            c.required("Version").unwrap_err(),
            "control file has an empty Version field"
        );
        assert_eq!(
            c.required("Architecture").unwrap_err(),
            "control file has no Architecture field"
        );
    }

    #[test]
    fn latin1_is_not_fatal() {
        let c = Control::parse(b"Package: a\nMaintainer: Ren\xe9 <r@x>\n").unwrap();
        assert!(c.get("Maintainer").unwrap().value().starts_with("Ren"));
    }
}
