//! Times on the command line (`history --since/--until`, `rollback --to`) as Unix seconds,
//! computed here so that the server gets plain numbers; and Unix seconds back as UTC text.
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, OffsetDateTime};

const DAY: i64 = 86_400;

/// What a time may be, for error messages.
const FORMS: &str = "now, today, yesterday, Nm, Nh, Nd or Nw (that long ago), a date \
                     (2026-11-30) or RFC 3339 (2026-11-30T12:00Z, 2026-11-30T12:00:00+01:00)";

/// `rollback --to`: a generation number, or the generation current at a time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Point {
    Generation(u64),
    At(i64),
}

/// Now, in Unix seconds.
fn now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

/// clap's parser for a time flag: Unix seconds.
pub fn at(s: &str) -> Result<i64, String> {
    parse(s, now())
}

/// clap's parser for `--to`: a plain integer is a generation, anything else a time.
pub fn point(s: &str) -> Result<Point, String> {
    let s = s.trim();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s
            .parse()
            .map(Point::Generation)
            .map_err(|_| format!("{s:?}: generation out of range"));
    }
    parse(s, now())
        .map(Point::At)
        .map_err(|e| format!("{e} (or a generation number)"))
}

/// `s` as Unix seconds, relative ones counted back from `now`.
pub fn parse(s: &str, now: i64) -> Result<i64, String> {
    let s = s.trim();
    let bad = || format!("{s:?} is not a time: give {FORMS}");
    match s {
        "now" => return Ok(now),
        "today" => return Ok(now - now.rem_euclid(DAY)),
        "yesterday" => return Ok(now - DAY),
        _ => {}
    }
    if let Some((i, unit)) = s.char_indices().last() {
        let unit = match unit {
            'm' => Some(60),
            'h' => Some(3600),
            'd' => Some(DAY),
            'w' => Some(7 * DAY),
            _ => None,
        };
        let digits = &s[..i];
        if let Some(unit) = unit.filter(|_| !digits.is_empty()) {
            if !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            return digits
                .parse::<i64>()
                .ok()
                .and_then(|n| n.checked_mul(unit))
                .and_then(|ago| now.checked_sub(ago))
                .ok_or_else(|| format!("{s:?}: too long ago"));
        }
    }
    if let Ok(d) = Date::parse(s, format_description!("[year]-[month]-[day]")) {
        return Ok(d.midnight().assume_utc().unix_timestamp());
    }
    OffsetDateTime::parse(&with_seconds(s), &Rfc3339)
        .map(|t| t.unix_timestamp())
        .map_err(|_| bad())
}

/// `2026-11-30T12:00Z` as `2026-11-30T12:00:00Z`: RFC 3339 wants the seconds, people leave
/// them out.
fn with_seconds(s: &str) -> String {
    let Some(t) = s.find(['T', 't']) else {
        return s.to_string();
    };
    let (date, clock) = s.split_at(t + 1);
    let end = clock.find(['Z', 'z', '+', '-']).unwrap_or(clock.len());
    if clock[..end].matches(':').count() == 1 {
        format!("{date}{}:00{}", &clock[..end], &clock[end..])
    } else {
        s.to_string()
    }
}

/// Unix seconds as `2026-12-03 10:00` (UTC); out of range, the number itself.
pub fn utc(at: i64) -> String {
    OffsetDateTime::from_unix_timestamp(at)
        .ok()
        .and_then(|t| {
            t.format(format_description!("[year]-[month]-[day] [hour]:[minute]"))
                .ok()
        })
        .unwrap_or_else(|| at.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-12-03T10:30:15Z
    const NOW: i64 = 1_796_293_815;

    #[test]
    fn every_form_of_time() {
        let cases = [
            ("now", NOW),
            ("today", 1_796_256_000),
            ("yesterday", NOW - 86_400),
            ("90m", NOW - 5_400),
            ("3h", NOW - 10_800),
            ("3d", NOW - 3 * 86_400),
            ("2w", NOW - 14 * 86_400),
            ("0d", NOW),
            ("2026-11-30", 1_795_996_800),
            ("2026-11-30T12:00Z", 1_796_040_000),
            ("2026-11-30T12:00:00Z", 1_796_040_000),
            ("2026-11-30T12:00:30Z", 1_796_040_030),
            ("2026-11-30T12:00:00+01:00", 1_796_036_400),
            ("2026-11-30T12:00-02:00", 1_796_047_200),
            (" 2026-11-30T12:00Z ", 1_796_040_000),
        ];
        for (s, want) in cases {
            assert_eq!(parse(s, NOW), Ok(want), "{s}");
        }
        assert_eq!(utc(NOW), "2026-12-03 10:30");
        assert_eq!(utc(1_796_040_000), "2026-11-30 12:00");
    }

    #[test]
    fn a_bad_time_says_what_a_time_is() {
        for s in [
            "",
            "soon",
            "3y",
            "d",
            "-3d",
            "3.5h",
            "2026-13-01",
            "2026-11-30T25:00Z",
            "12:00",
        ] {
            let e = parse(s, NOW).unwrap_err();
            assert!(
                e.contains("is not a time") && e.contains("RFC 3339"),
                "{s}: {e}"
            );
        }
        assert!(parse("99999999999999999w", NOW)
            .unwrap_err()
            .contains("too long ago"));
    }

    #[test]
    fn to_is_a_generation_or_a_time() {
        assert_eq!(point("12"), Ok(Point::Generation(12)));
        assert!(matches!(point("3d"), Ok(Point::At(_))));
        assert!(matches!(point("2026-11-30"), Ok(Point::At(1_795_996_800))));
        let e = point("later").unwrap_err();
        assert!(e.contains("or a generation number"), "{e}");
    }
}
