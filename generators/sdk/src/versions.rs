//! Version orders of the formats, for `inspect.compare-versions`: dpkg's (Debian Policy
//! 5.6.12), rpm's rpmvercmp with epoch and release, pacman's vercmp, and a plain natural
//! order (the host's default for generators without `inspect`). Pure functions: the host
//! uses [`natural`] and [`ranks`] too.
use std::cmp::Ordering;

/// The rank of each version under `cmp`: equal versions share a rank, ranks start at 0 and
/// have no gaps (what `compare-versions` answers).
pub fn ranks(versions: &[String], cmp: impl Fn(&str, &str) -> Ordering) -> Vec<u32> {
    let mut order: Vec<usize> = (0..versions.len()).collect();
    order.sort_by(|&a, &b| cmp(&versions[a], &versions[b]));
    let mut out = vec![0u32; versions.len()];
    let mut rank = 0u32;
    for (i, &idx) in order.iter().enumerate() {
        if i > 0 && cmp(&versions[order[i - 1]], &versions[idx]) != Ordering::Equal {
            rank += 1;
        }
        out[idx] = rank;
    }
    out
}

/// Runs of digits compare as numbers, other runs as text; a longer version with an equal
/// start is newer.
pub fn natural(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    loop {
        match (a.is_empty(), b.is_empty()) {
            (true, true) => return Ordering::Equal,
            (true, false) => return Ordering::Less,
            (false, true) => return Ordering::Greater,
            _ => {}
        }
        let digits = a[0].is_ascii_digit();
        if digits != b[0].is_ascii_digit() {
            // A number sorts after text at the same place (1.0 > 1.a).
            return if digits {
                Ordering::Greater
            } else {
                Ordering::Less
            };
        }
        let (sa, ra) = split_run(a, digits);
        let (sb, rb) = split_run(b, digits);
        let o = if digits { numeric(sa, sb) } else { sa.cmp(sb) };
        if o != Ordering::Equal {
            return o;
        }
        (a, b) = (ra, rb);
    }
}

fn split_run(s: &[u8], digits: bool) -> (&[u8], &[u8]) {
    let n = s
        .iter()
        .position(|c| c.is_ascii_digit() != digits)
        .unwrap_or(s.len());
    s.split_at(n)
}

/// Two runs of digits as numbers of any length.
fn numeric(a: &[u8], b: &[u8]) -> Ordering {
    let trim = |s: &[u8]| -> usize { s.iter().position(|&c| c != b'0').unwrap_or(s.len()) };
    let (a, b) = (&a[trim(a)..], &b[trim(b)..]);
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// dpkg's order of `[epoch:]upstream[-revision]`.
pub fn dpkg(a: &str, b: &str) -> Ordering {
    let (ea, ua, ra) = dpkg_parts(a);
    let (eb, ub, rb) = dpkg_parts(b);
    ea.cmp(&eb)
        .then_with(|| verrevcmp(ua, ub))
        .then_with(|| verrevcmp(ra, rb))
}

fn dpkg_parts(v: &str) -> (u64, &str, &str) {
    let (epoch, rest) = match v.split_once(':') {
        Some((e, r)) if e.bytes().all(|c| c.is_ascii_digit()) && !e.is_empty() => {
            (e.parse().unwrap_or(u64::MAX), r)
        }
        _ => (0, v),
    };
    match rest.rsplit_once('-') {
        Some((u, r)) => (epoch, u, r),
        None => (epoch, rest, ""),
    }
}

/// dpkg's `verrevcmp`: `~` before everything (even the end), letters before other marks,
/// digit runs as numbers.
fn verrevcmp(a: &str, b: &str) -> Ordering {
    fn order(c: Option<&u8>) -> i32 {
        match c {
            None => 0,
            Some(c) if c.is_ascii_digit() => 0,
            Some(c) if c.is_ascii_alphabetic() => *c as i32,
            Some(b'~') => -1,
            Some(c) => *c as i32 + 256,
        }
    }
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        while (i < a.len() && !a[i].is_ascii_digit()) || (j < b.len() && !b[j].is_ascii_digit()) {
            let (ac, bc) = (order(a.get(i)), order(b.get(j)));
            if ac != bc {
                return ac.cmp(&bc);
            }
            i += 1;
            j += 1;
        }
        let (da, ra) = split_run(a.get(i..).unwrap_or_default(), true);
        let (db, rb) = split_run(b.get(j..).unwrap_or_default(), true);
        let o = numeric(da, db);
        if o != Ordering::Equal {
            return o;
        }
        i = a.len() - ra.len();
        j = b.len() - rb.len();
    }
    Ordering::Equal
}

/// rpm's `rpmvercmp` of two version (or release) strings.
pub fn rpmvercmp(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    let sep = |c: u8| !c.is_ascii_alphanumeric() && c != b'~' && c != b'^';
    loop {
        while a.first().is_some_and(|&c| sep(c)) {
            a = &a[1..];
        }
        while b.first().is_some_and(|&c| sep(c)) {
            b = &b[1..];
        }
        let (fa, fb) = (a.first().copied(), b.first().copied());
        if fa == Some(b'~') || fb == Some(b'~') {
            if fa != Some(b'~') {
                return Ordering::Greater;
            }
            if fb != Some(b'~') {
                return Ordering::Less;
            }
            (a, b) = (&a[1..], &b[1..]);
            continue;
        }
        if fa == Some(b'^') || fb == Some(b'^') {
            match (fa, fb) {
                (None, _) => return Ordering::Less,
                (_, None) => return Ordering::Greater,
                (Some(x), _) if x != b'^' => return Ordering::Greater,
                (_, Some(y)) if y != b'^' => return Ordering::Less,
                _ => {}
            }
            (a, b) = (&a[1..], &b[1..]);
            continue;
        }
        let (Some(x), Some(_)) = (fa, fb) else {
            break;
        };
        let digits = x.is_ascii_digit();
        let run = |s: &[u8]| -> usize {
            s.iter()
                .position(|c| {
                    if digits {
                        !c.is_ascii_digit()
                    } else {
                        !c.is_ascii_alphabetic()
                    }
                })
                .unwrap_or(s.len())
        };
        let (na, nb) = (run(a), run(b));
        if nb == 0 {
            // Segments of different kinds: a number is newer than letters.
            return if digits {
                Ordering::Greater
            } else {
                Ordering::Less
            };
        }
        let o = if digits {
            numeric(&a[..na], &b[..nb])
        } else {
            a[..na].cmp(&b[..nb])
        };
        if o != Ordering::Equal {
            return o;
        }
        (a, b) = (&a[na..], &b[nb..]);
    }
    match (a.is_empty(), b.is_empty()) {
        (true, true) => Ordering::Equal,
        (false, _) => Ordering::Greater,
        _ => Ordering::Less,
    }
}

/// `[epoch:]version[-release]`, epoch "0" when absent, release `None` when absent.
fn evr(v: &str) -> (&str, &str, Option<&str>) {
    let (epoch, rest) = match v.split_once(':') {
        Some((e, r)) if e.bytes().all(|c| c.is_ascii_digit()) => (e, r),
        _ => ("0", v),
    };
    let epoch = if epoch.is_empty() { "0" } else { epoch };
    match rest.rsplit_once('-') {
        Some((ver, rel)) => (epoch, ver, Some(rel)),
        None => (epoch, rest, None),
    }
}

/// rpm's order of `[epoch:]version-release` (rpmVersionCompare): epoch as a number, then
/// version and release with rpmvercmp.
pub fn rpm(a: &str, b: &str) -> Ordering {
    let (ea, va, ra) = evr(a);
    let (eb, vb, rb) = evr(b);
    numeric(ea.as_bytes(), eb.as_bytes())
        .then_with(|| rpmvercmp(va, vb))
        .then_with(|| rpmvercmp(ra.unwrap_or(""), rb.unwrap_or("")))
}

/// pacman's `vercmp` (alpm_pkg_vercmp): as [`rpm`], but a release counts only when both
/// versions have one.
pub fn pacman(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let (ea, va, ra) = evr(a);
    let (eb, vb, rb) = evr(b);
    let o = rpmvercmp(ea, eb).then_with(|| rpmvercmp(va, vb));
    match (o, ra, rb) {
        (Ordering::Equal, Some(ra), Some(rb)) => rpmvercmp(ra, rb),
        _ => o,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    #[test]
    fn dpkg_order() {
        // From dpkg's own test suite (t-version.c) and Debian Policy.
        for (a, b, o) in [
            ("1.0", "1.0", Equal),
            ("1.0~rc1", "1.0", Less),
            ("1.0", "1.0-1", Less),
            ("1.0-1", "1.0-1~bpo1", Greater),
            ("1:0.1", "2.0", Greater),
            ("2.10", "2.9", Greater),
            ("1.0a", "1.0+", Less),
            ("1.0", "1.0a", Less),
            ("0:1.2-3", "1.2-3", Equal),
            ("1.2.3-1", "1.2.3-10", Less),
            ("12.2.0-14", "12.2.0-14+deb12u1", Less),
        ] {
            assert_eq!(dpkg(a, b), o, "{a} vs {b}");
            assert_eq!(dpkg(b, a), o.reverse(), "{b} vs {a}");
        }
    }

    #[test]
    fn rpm_order() {
        // From rpm's tests/rpmvercmp.at.
        for (a, b, o) in [
            ("1.0", "1.0", Equal),
            ("1.0", "2.0", Less),
            ("2.0.1", "2.0", Greater),
            ("5.5p1", "5.5p10", Less),
            ("10xyz", "10.1xyz", Less),
            ("xyz10", "xyz10.1", Less),
            ("1.0aa", "1.0a", Greater),
            ("2a", "2.0", Less),
            ("1.0~rc1", "1.0", Less),
            ("1.0~rc1", "1.0~rc2", Less),
            ("1.0^", "1.0", Greater),
            ("1.0^git1", "1.0.1", Less),
            ("1.0^", "1.0~", Greater),
            ("a", "1", Less),
            ("001", "1", Equal),
        ] {
            assert_eq!(rpmvercmp(a, b), o, "{a} vs {b}");
            assert_eq!(rpmvercmp(b, a), o.reverse(), "{b} vs {a}");
        }
        assert_eq!(rpm("1:1.0-1", "2.0-1"), Greater);
        assert_eq!(rpm("1.0-2", "1.0-10"), Less);
        assert_eq!(pacman("1.0-2", "1.0"), Equal);
        assert_eq!(pacman("1:1.0-1", "2.0-1"), Greater);
        assert_eq!(pacman("2.10-1", "2.9-3"), Greater);
    }

    #[test]
    fn natural_and_ranks() {
        assert_eq!(natural("1.10", "1.9"), Greater);
        assert_eq!(natural("1.0", "1.0.1"), Less);
        assert_eq!(natural("007", "7"), Equal);
        let v: Vec<String> = ["2.0", "1.10", "1.9", "1.9", "0.1"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(ranks(&v, natural), vec![3, 2, 1, 1, 0]);
        assert_eq!(ranks(&[], natural), Vec::<u32>::new());
    }
}
