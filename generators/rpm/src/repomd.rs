//! Publish step 2: `repomd.xml`, which lists the assembled files by checksum-prefixed names
//! (`<sha256>-primary.xml.gz`, aliases of the assembled `primary.xml.gz`, free because blobs
//! are content-addressed), its detached armored signature `repomd.xml.asc` and the key that
//! made it, `repomd.xml.key` (zypper fetches it next to the signature).
//!
//! The prefixed names change with the content, so a client still holding an older
//! repomd.xml keeps finding the files it lists: the host serves the files of earlier
//! generations for a grace period.
use crate::repodata::KINDS;
use crate::reposmith::generator::types::{Assembled, Content, Encoding, Output, RepoInfo};

/// The host's signer (a trait, so tests sign without a host).
pub use reposmith_generator_sdk::Signer as Sign;

pub fn finish(
    repo: &RepoInfo,
    files: &[Assembled],
    signer: &dyn Sign,
) -> Result<Vec<Output>, String> {
    let mut out = Vec::new();
    let mut listed = Vec::new();
    for (kind, ..) in KINDS {
        let path = format!("{kind}.xml.gz");
        let f = files
            .iter()
            .find(|f| f.path == path && f.encoding == Encoding::Gzip)
            .ok_or_else(|| format!("the host did not assemble {path}"))?;
        let prefixed = format!("{}-{path}", f.sha256);
        out.push(Output {
            path: prefixed.clone(),
            content: Content::SameAs(path),
            media_type: None,
        });
        listed.push((kind, prefixed, f));
    }
    let xml = render(repo, &listed);
    let sig = signer
        .detached(xml.as_bytes(), true)
        .map_err(|e| format!("signing repomd.xml failed: {e}"))?;
    out.push(Output {
        path: "repomd.xml".into(),
        content: Content::Bytes(xml.into_bytes()),
        media_type: None,
    });
    out.push(Output {
        path: "repomd.xml.asc".into(),
        content: Content::Bytes(sig),
        media_type: None,
    });
    out.push(Output {
        path: "repomd.xml.key".into(),
        content: Content::Bytes(signer.public_key().into_bytes()),
        media_type: None,
    });
    Ok(out)
}

/// repomd.xml as createrepo_c lays it out; revision and timestamps are the publish time.
pub fn render(repo: &RepoInfo, listed: &[(&str, String, &Assembled)]) -> String {
    let now = repo.now;
    let mut o = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<repomd xmlns=\"http://linux.duke.edu/metadata/repo\" xmlns:rpm=\"http://linux.duke.edu/metadata/rpm\">\n",
    );
    o.push_str(&format!("  <revision>{now}</revision>\n"));
    for (kind, name, f) in listed {
        o.push_str(&format!(
            "  <data type=\"{kind}\">\n    <checksum type=\"sha256\">{}</checksum>\n    <open-checksum type=\"sha256\">{}</open-checksum>\n    <location href=\"repodata/{name}\"/>\n    <timestamp>{now}</timestamp>\n    <size>{}</size>\n    <open-size>{}</open-size>\n  </data>\n",
            f.sha256, f.open_sha256, f.size, f.open_size
        ));
    }
    o.push_str("</repomd>\n");
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testrpm::repo_info;

    struct FakeSigner;
    impl Sign for FakeSigner {
        fn detached(&self, data: &[u8], armor: bool) -> Result<Vec<u8>, String> {
            assert!(armor);
            Ok(format!("sig of {} bytes", data.len()).into_bytes())
        }
        fn public_key(&self) -> String {
            "-----BEGIN PGP PUBLIC KEY BLOCK-----\n".into()
        }
    }

    struct BrokenSigner;
    impl Sign for BrokenSigner {
        fn detached(&self, _: &[u8], _: bool) -> Result<Vec<u8>, String> {
            Err("no key".into())
        }
        fn public_key(&self) -> String {
            String::new()
        }
    }

    fn file(path: &str, seed: char) -> Assembled {
        Assembled {
            path: path.into(),
            encoding: Encoding::Gzip,
            size: 100,
            md5: seed.to_string().repeat(32),
            sha1: seed.to_string().repeat(40),
            sha256: seed.to_string().repeat(64),
            sha512: seed.to_string().repeat(128),
            open_size: 400,
            open_sha256: "f".repeat(64),
            patch: None,
        }
    }

    #[test]
    fn repomd_lists_prefixed_files_and_is_signed() {
        let files = [
            file("primary.xml.gz", 'a'),
            file("filelists.xml.gz", 'b'),
            file("other.xml.gz", 'c'),
        ];
        let out = finish(&repo_info(), &files, &FakeSigner).unwrap();
        let paths: Vec<_> = out.iter().map(|o| o.path.clone()).collect();
        let (a, b, c) = ("a".repeat(64), "b".repeat(64), "c".repeat(64));
        assert_eq!(
            paths,
            [
                format!("{a}-primary.xml.gz"),
                format!("{b}-filelists.xml.gz"),
                format!("{c}-other.xml.gz"),
                "repomd.xml".into(),
                "repomd.xml.asc".into(),
                "repomd.xml.key".into(),
            ]
        );
        assert_eq!(out[0].content, Content::SameAs("primary.xml.gz".into()));
        let Content::Bytes(xml) = &out[3].content else {
            panic!()
        };
        let xml = String::from_utf8(xml.clone()).unwrap();
        let expected_primary = format!(
            "  <data type=\"primary\">\n    <checksum type=\"sha256\">{a}</checksum>\n    <open-checksum type=\"sha256\">{}</open-checksum>\n    <location href=\"repodata/{a}-primary.xml.gz\"/>\n    <timestamp>1795830401</timestamp>\n    <size>100</size>\n    <open-size>400</open-size>\n  </data>\n",
            "f".repeat(64)
        );
        assert!(xml.contains(&expected_primary), "{xml}");
        assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<repomd "));
        assert!(xml.contains("  <revision>1795830401</revision>\n"));
        assert!(xml.ends_with("</repomd>\n"));
        let Content::Bytes(sig) = &out[4].content else {
            panic!()
        };
        assert_eq!(sig, format!("sig of {} bytes", xml.len()).as_bytes());
        let Content::Bytes(key) = &out[5].content else {
            panic!()
        };
        assert!(key.starts_with(b"-----BEGIN PGP PUBLIC KEY BLOCK-----"));
    }

    #[test]
    fn missing_files_and_signer_errors_fail_the_publish() {
        let err = finish(&repo_info(), &[file("primary.xml.gz", 'a')], &FakeSigner).unwrap_err();
        assert_eq!(err, "the host did not assemble filelists.xml.gz");
        let files = [
            file("primary.xml.gz", 'a'),
            file("filelists.xml.gz", 'b'),
            file("other.xml.gz", 'c'),
        ];
        let err = finish(&repo_info(), &files, &BrokenSigner).unwrap_err();
        assert_eq!(err, "signing repomd.xml failed: no key");
    }
}
