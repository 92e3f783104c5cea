//! reposmith's FreeBSD pkg generator (work in progress).
