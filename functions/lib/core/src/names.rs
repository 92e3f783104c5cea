//! The names a client may give: repo names, file names, hint keys, repo settings, upload
//! ids. They become store keys, URL segments and published paths, so a bad one is refused
//! with a 400 before it reaches a store.
use crate::error::{ApiError, ApiResult};
use crate::generator::Hint;

/// Whether `name` can name a repo: 1-64 of [A-Za-z0-9._+-], starting with a letter or digit.
pub fn is_repo_name(name: &str) -> bool {
    !name.is_empty()
        && !crate::routes::RESERVED.contains(&name)
        && name.len() <= 64
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._+-".contains(&b))
}

/// Repo names become store keys and URL segments: keep them plain.
pub fn check_repo_name(name: &str) -> ApiResult<()> {
    if is_repo_name(name) {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "invalid repo name {name:?}: use 1-64 of [A-Za-z0-9._+-], starting with a letter or digit, and not {:?}",
            crate::routes::RESERVED
        )))
    }
}

/// Snapshot names become store keys and the `REF` of `/repos/REPO@REF/`: 1-64 of
/// [A-Za-z0-9._-], starting with a letter or digit, and not `g` + digits (a generation).
pub fn check_snapshot_name(name: &str) -> ApiResult<()> {
    let generation = name
        .strip_prefix('g')
        .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()));
    if name.is_empty()
        || name.len() > 64
        || !name.as_bytes()[0].is_ascii_alphanumeric()
        || generation
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    {
        return Err(ApiError::bad_request(format!(
            "invalid snapshot name {name:?}: use 1-64 of [A-Za-z0-9._-], starting with a letter \
             or digit, and not g followed by digits (that names a generation)"
        )));
    }
    Ok(())
}

/// Uploaded file names become URL segments and published paths.
pub fn check_filename(name: &str) -> ApiResult<()> {
    if name.is_empty() {
        return Err(ApiError::bad_request(
            "missing file name: give ?filename=NAME, Content-Disposition, or a multipart file name",
        ));
    }
    if name.len() > 255
        || name.contains('/')
        || name.contains('\\')
        || name == "."
        || name == ".."
        || name.starts_with('.')
        || name.chars().any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(ApiError::bad_request(format!(
            "invalid file name {name:?}: no directories, no leading dot, no spaces or control characters"
        )));
    }
    Ok(())
}

/// A client's hint; `repo.` keys are reserved for the repo's own settings.
pub fn hint(key: &str, value: &str) -> ApiResult<Hint> {
    if key.is_empty() || key.starts_with("repo.") || key.chars().any(|c| c.is_control()) {
        return Err(ApiError::bad_request(format!("invalid hint key {key:?}")));
    }
    Ok(Hint {
        key: key.to_string(),
        value: value.to_string(),
    })
}

/// `KEY=VALUE` as a hint.
pub fn hint_pair(s: &str) -> ApiResult<Hint> {
    let (k, v) = s
        .split_once('=')
        .ok_or_else(|| ApiError::bad_request(format!("hint {s:?} is not KEY=VALUE")))?;
    hint(k.trim(), v.trim())
}

/// A suite, component or architecture: formats put them in paths.
pub fn check_setting(what: &str, v: &str) -> ApiResult<()> {
    if v.is_empty()
        || v == "."
        || v.len() > 64
        || v.contains("..")
        || !v
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._+-~".contains(&b))
    {
        return Err(ApiError::bad_request(format!("invalid {what} {v:?}")));
    }
    Ok(())
}

/// A large upload's id: 32 lower-case hex digits, as `start_upload` makes them.
pub fn check_upload_id(id: &str) -> ApiResult<()> {
    if id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "malformed upload id {id:?}: use the id that starting the upload answered"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_names_are_400() {
        for bad in ["", "..", "a/b", "repos", "-x", &"x".repeat(65)] {
            assert_eq!(check_repo_name(bad).unwrap_err().status, 400, "{bad:?}");
        }
        assert!(check_repo_name("my-repo_1.0+x").is_ok());
        for bad in ["", "..", "x/..", "../../etc", &"a".repeat(33)] {
            assert_eq!(check_upload_id(bad).unwrap_err().status, 400, "{bad:?}");
        }
        assert!(check_upload_id(&"0a".repeat(16)).is_ok());
        assert_eq!(hint_pair("novalue").unwrap_err().status, 400);
        assert_eq!(hint_pair("repo.name=x").unwrap_err().status, 400);
        assert_eq!(hint_pair(" k = v ").unwrap().value, "v");
        // A suite, component or architecture is a path segment: `.` would publish nothing.
        for bad in ["", ".", "..", "a/b", "a..b", "a b"] {
            assert_eq!(
                check_setting("suite", bad).unwrap_err().status,
                400,
                "{bad:?}"
            );
        }
        assert!(check_setting("suite", "a~b.c").is_ok());
    }
}
