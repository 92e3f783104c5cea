//! zypper: INI `.repo` files in /etc/zypp/repos.d (the same INI as dnf's, parsed and edited by
//! `yum.rs`): `[alias]`, `enabled`, `autorefresh`, `baseurl`, `type`, `gpgcheck`,
//! `repo_gpgcheck`.
use super::{yum, Plan, Served};
use std::path::{Path, PathBuf};

pub const DIR: &str = "etc/zypp/repos.d";

pub fn files(root: &Path) -> Vec<PathBuf> {
    yum::repo_files(&root.join(DIR))
}

pub fn plan(name: &str, s: &Served) -> anyhow::Result<Plan> {
    yum::repo_plan(DIR, name, s)
}
