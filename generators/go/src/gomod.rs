//! What the proxy reads of a `go.mod` (`golang.org/x/mod/modfile` syntax): the `module`
//! directive, which must name the module the zip holds (go refuses a dependency whose go.mod
//! "declares its path as" something else), and for `describe` the `go` version and the
//! `require` directives. Lines of tokens, `//` comments, `"quoted"` and `` `raw` `` strings,
//! `verb ( ... )` blocks.

/// One line's tokens, its comment dropped; `None` if a quoted string is not closed.
fn tokens(line: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut rest = line;
    loop {
        rest = rest.trim_start();
        if rest.is_empty() || rest.starts_with("//") {
            return Some(out);
        }
        let (tok, after) = match rest.as_bytes()[0] {
            q @ (b'"' | b'`') => {
                // The closing quote; in "..." a backslash escapes the next byte (kept as
                // written: no module path has one, so such a token never matches a path).
                let b = rest.as_bytes();
                let mut i = 1;
                while i < b.len() && b[i] != q {
                    i += if q == b'"' && b[i] == b'\\' { 2 } else { 1 };
                }
                if i >= b.len() {
                    return None;
                }
                (rest[1..i].to_string(), &rest[i + 1..])
            }
            b'(' | b')' => (rest[..1].to_string(), &rest[1..]),
            _ => {
                // Up to a space, a quote, a parenthesis or a comment (never 0: those that
                // start a token are handled above).
                let end = rest
                    .char_indices()
                    .find(|&(i, c)| {
                        c.is_whitespace() || "\"`()".contains(c) || rest[i..].starts_with("//")
                    })
                    .map_or(rest.len(), |(i, _)| i);
                (rest[..end].to_string(), &rest[end..])
            }
        };
        out.push(tok);
        rest = after;
    }
}

/// The directives of a go.mod: `(verb, arguments)`, blocks expanded (`require ( a v1 )` gives
/// `("require", ["a", "v1"])`); `None` for a line it cannot read.
pub fn directives(text: &str) -> Option<Vec<(String, Vec<String>)>> {
    let mut out = Vec::new();
    let mut block: Option<String> = None;
    for line in text.lines() {
        let t = tokens(line)?;
        match (&block, t.as_slice()) {
            (_, []) => {}
            (Some(_), [close]) if close == ")" => block = None,
            (Some(verb), args) => out.push((verb.clone(), args.to_vec())),
            (None, [verb, open]) if open == "(" => block = Some(verb.clone()),
            (None, [verb, args @ ..]) => out.push((verb.clone(), args.to_vec())),
        }
    }
    Some(out)
}

/// The path the `module` directive declares.
pub fn module_path(gomod: &[u8]) -> Result<String, String> {
    let text = std::str::from_utf8(gomod).map_err(|_| "go.mod is not UTF-8".to_string())?;
    let dirs = directives(text).ok_or("go.mod: a line go cannot parse (an unclosed string?)")?;
    let mut found = dirs.iter().filter(|(verb, _)| verb == "module");
    let (_, args) = found.next().ok_or("go.mod has no module directive")?;
    if found.next().is_some() {
        return Err("go.mod: repeated module statement".into());
    }
    match args.as_slice() {
        [path] => Ok(path.clone()),
        _ => Err("go.mod: usage: module module/path".into()),
    }
}

/// The go.mod go writes for a module without one (`modfetch.LegacyGoMod`): `module PATH`.
pub fn legacy(path: &str) -> Vec<u8> {
    format!("module {path}\n").into_bytes()
}

/// The `go` directive's version and each `require`d `(path, version)`, for `describe`.
pub fn summary(gomod: &[u8]) -> (String, Vec<(String, String)>) {
    let text = String::from_utf8_lossy(gomod);
    let dirs = directives(&text).unwrap_or_default();
    let go = dirs
        .iter()
        .find(|(v, a)| v == "go" && a.len() == 1)
        .map(|(_, a)| a[0].clone())
        .unwrap_or_default();
    let requires = dirs
        .into_iter()
        .filter(|(v, a)| v == "require" && a.len() == 2)
        .map(|(_, mut a)| {
            let version = a.pop().unwrap_or_default();
            (a.pop().unwrap_or_default(), version)
        })
        .collect();
    (go, requires)
}
