//! rpm-md (yum/dnf repodata) helpers for the rpm end-to-end tests: repomd.xml parsing,
//! checking every listed file against the server, and an order-insensitive canonical form of
//! primary/filelists/other packages for comparing with createrepo_c.
#![allow(dead_code)]

use crate::common::{sha256_hex, Server};
use std::io::Read;

#[derive(Debug, Clone)]
pub struct DataFile {
    pub kind: String,
    pub checksum: String,
    pub open_checksum: String,
    pub href: String,
    pub size: u64,
    pub open_size: u64,
}

pub fn gunzip(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(data)
        .read_to_end(&mut out)
        .expect("gzip");
    out
}

fn child_text<'a>(n: roxmltree::Node<'a, 'a>, name: &str) -> &'a str {
    n.children()
        .find(|c| c.has_tag_name(name))
        .and_then(|c| c.text())
        .unwrap_or("")
}

pub fn parse_repomd(xml: &str) -> Vec<DataFile> {
    let doc = roxmltree::Document::parse(xml).expect("repomd.xml parses");
    doc.root_element()
        .children()
        .filter(|c| c.has_tag_name("data"))
        .map(|d| DataFile {
            kind: d.attribute("type").unwrap().to_string(),
            checksum: child_text(d, "checksum").to_string(),
            open_checksum: child_text(d, "open-checksum").to_string(),
            href: d
                .children()
                .find(|c| c.has_tag_name("location"))
                .and_then(|c| c.attribute("href"))
                .unwrap()
                .to_string(),
            size: child_text(d, "size").parse().unwrap(),
            open_size: child_text(d, "open-size").parse().unwrap(),
        })
        .collect()
}

/// Fetches repomd.xml, checks that every file it lists is served with its size and
/// checksums, and returns the list with each file's decompressed content.
pub fn fetch_repodata(server: &Server, repo: &str) -> Vec<(DataFile, String)> {
    let r = server.get(&format!("/repos/{repo}/repodata/repomd.xml"));
    assert_eq!(r.status, 200, "repomd.xml: {}", r.text());
    let mut out = Vec::new();
    for d in parse_repomd(&r.text()) {
        assert!(
            d.href.starts_with(&format!("repodata/{}-", d.checksum)),
            "{d:?}: checksum-prefixed name"
        );
        let f = server.get(&format!("/repos/{repo}/{}", d.href));
        assert_eq!(f.status, 200, "{} listed but not served", d.href);
        assert_eq!(f.body.len() as u64, d.size, "{}: size", d.href);
        assert_eq!(sha256_hex(&f.body), d.checksum, "{}: checksum", d.href);
        let open = gunzip(&f.body);
        assert_eq!(open.len() as u64, d.open_size, "{}: open-size", d.href);
        assert_eq!(
            sha256_hex(&open),
            d.open_checksum,
            "{}: open-checksum",
            d.href
        );
        out.push((d, String::from_utf8(open).unwrap()));
    }
    let kinds: Vec<&str> = out.iter().map(|(d, _)| d.kind.as_str()).collect();
    assert_eq!(kinds, ["primary", "filelists", "other"]);
    out
}

/// The content of one metadata kind from a fetched/created list.
pub fn kind<'a>(files: &'a [(DataFile, String)], k: &str) -> &'a str {
    &files.iter().find(|(d, _)| d.kind == k).unwrap().1
}

/// The `packages="N"` of a metadata file's root element.
pub fn package_count(xml: &str) -> usize {
    let doc = roxmltree::Document::parse(xml).unwrap();
    doc.root_element()
        .attribute("packages")
        .unwrap()
        .parse()
        .unwrap()
}

fn qname(n: roxmltree::Node) -> String {
    let t = n.tag_name();
    match t.namespace() {
        Some(ns) if ns.ends_with("/metadata/rpm") => format!("rpm:{}", t.name()),
        _ => t.name().to_string(),
    }
}

/// A canonical, order-insensitive rendering of an element: its name, its sorted attributes
/// (minus `skip_attrs` as "element@attr"), its text, and its children's canonical forms
/// sorted. `<location href>` is reduced to the file name (createrepo_c's tree has its own
/// directory layout).
pub fn canon(n: roxmltree::Node, skip_attrs: &[&str]) -> String {
    let name = qname(n);
    let mut attrs: Vec<String> = n
        .attributes()
        .filter(|a| !skip_attrs.contains(&format!("{name}@{}", a.name()).as_str()))
        .map(|a| {
            let v = if name == "location" && a.name() == "href" {
                a.value().rsplit('/').next().unwrap().to_string()
            } else {
                a.value().to_string()
            };
            format!("{}={v:?}", a.name())
        })
        .collect();
    attrs.sort();
    let text: String = n
        .children()
        .filter(|c| c.is_text())
        .map(|c| c.text().unwrap())
        .collect();
    let text = if n.children().any(|c| c.is_element()) {
        String::new()
    } else {
        text
    };
    let mut kids: Vec<String> = n
        .children()
        .filter(|c| c.is_element())
        .map(|c| canon(c, skip_attrs))
        .collect();
    kids.sort();
    format!("<{name} {}>{text:?}[{}]", attrs.join(" "), kids.join(","))
}

/// Every `<package>` of a metadata file in canonical form, sorted.
pub fn canon_packages(xml: &str, skip_attrs: &[&str]) -> Vec<String> {
    let doc = roxmltree::Document::parse(xml).unwrap();
    let mut v: Vec<String> = doc
        .root_element()
        .children()
        .filter(|c| c.is_element())
        .map(|c| canon(c, skip_attrs))
        .collect();
    v.sort();
    v
}
