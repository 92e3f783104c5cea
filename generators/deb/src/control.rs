//! The deb822 control file of a binary package: one paragraph of `Field: value` lines with
//! continuation lines, kept in the original order so the Packages stanza reproduces it
//! (the SDK's `deb822` parses; this says what a control file must hold).

pub use reposmith_generator_sdk::deb822::{clip, Field};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Control {
    pub fields: Vec<Field>,
}

impl Control {
    /// Parses the control file. Invalid UTF-8 is replaced rather than rejected: dpkg does not
    /// check encodings, and old packages carry Latin-1 maintainer names.
    pub fn parse(data: &[u8]) -> Result<Control, String> {
        let text = String::from_utf8_lossy(data);
        let paragraphs = reposmith_generator_sdk::deb822::parse(&text)
            .map_err(|e| format!("control file {e}"))?;
        match <[_; 1]>::try_from(paragraphs) {
            Ok([one]) => Ok(Control { fields: one.fields }),
            Err(ps) if ps.is_empty() => Err("control file is empty".into()),
            Err(ps) => Err(format!(
                "control file has more than one paragraph (line {})",
                ps[1].line
            )),
        }
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
