//! UTC `time.Time` with Go's `String()` and `Format(layout)` (reference-time layouts).

use std::fmt;

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// A UTC instant (what Prometheus' `toTime` returns).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Time {
    pub secs: i64,
    pub nanos: u32,
}

struct Civil {
    year: i64,
    month: usize, // 1..=12
    day: i64,
    yday: i64, // 1..=366
    wday: usize,
    hour: i64,
    min: i64,
    sec: i64,
}

fn is_leap(y: i64) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

impl Time {
    /// Prometheus' `model.TimeFromUnixNano(ns).Time()`: truncated to milliseconds.
    pub fn from_unix_nanos_ms(ns: i64) -> Time {
        let ms = ns / 1_000_000;
        Time {
            secs: ms.div_euclid(1000),
            nanos: (ms.rem_euclid(1000) * 1_000_000) as u32,
        }
    }

    fn civil(&self) -> Civil {
        let days = self.secs.div_euclid(86_400);
        let rem = self.secs.rem_euclid(86_400);
        let (year, month, day) = crate::calendar::civil_from_days(days);
        let month = month as usize;
        const CUM: [i64; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
        let mut yday = CUM.get(month - 1).copied().unwrap_or(0) + day;
        if month > 2 && is_leap(year) {
            yday += 1;
        }
        Civil {
            year,
            month,
            day,
            yday,
            wday: (days + 4).rem_euclid(7) as usize,
            hour: rem / 3600,
            min: rem % 3600 / 60,
            sec: rem % 60,
        }
    }

    pub fn unix(&self) -> i64 {
        self.secs
    }

    pub fn unix_milli(&self) -> i64 {
        self.secs.saturating_mul(1000) + i64::from(self.nanos / 1_000_000)
    }

    pub fn unix_nano(&self) -> i64 {
        self.secs
            .saturating_mul(1_000_000_000)
            .saturating_add(i64::from(self.nanos))
    }

    /// Integer accessor methods (`Year`, `Day`, ...), by Go method name.
    pub fn int_method(&self, name: &str) -> Option<i64> {
        let c = self.civil();
        Some(match name {
            "Unix" => self.unix(),
            "UnixMilli" => self.unix_milli(),
            "UnixNano" => self.unix_nano(),
            "Year" => c.year,
            "YearDay" => c.yday,
            "Day" => c.day,
            "Hour" => c.hour,
            "Minute" => c.min,
            "Second" => c.sec,
            "Nanosecond" => i64::from(self.nanos),
            _ => return None,
        })
    }

    /// Go's `Time.Format` for a UTC time.
    pub fn format(&self, layout: &str) -> String {
        let c = self.civil();
        let mut out = String::with_capacity(layout.len() + 10);
        let mut rest = layout;
        while !rest.is_empty() {
            let (prefix, std, suffix) = next_std_chunk(rest);
            out.push_str(prefix);
            match std {
                Std::None => break,
                Std::LongMonth => out.push_str(MONTHS[c.month - 1]),
                Std::Month => out.push_str(&MONTHS[c.month - 1][..3]),
                Std::NumMonth => out.push_str(&c.month.to_string()),
                Std::ZeroMonth => out.push_str(&format!("{:02}", c.month)),
                Std::LongWeekDay => out.push_str(DAYS[c.wday]),
                Std::WeekDay => out.push_str(&DAYS[c.wday][..3]),
                Std::Day => out.push_str(&c.day.to_string()),
                Std::UnderDay => out.push_str(&format!("{:>2}", c.day)),
                Std::ZeroDay => out.push_str(&format!("{:02}", c.day)),
                Std::UnderYearDay => out.push_str(&format!("{:>3}", c.yday)),
                Std::ZeroYearDay => out.push_str(&format!("{:03}", c.yday)),
                Std::Hour => out.push_str(&format!("{:02}", c.hour)),
                Std::Hour12 | Std::ZeroHour12 => {
                    let h = match c.hour % 12 {
                        0 => 12,
                        h => h,
                    };
                    if std == Std::Hour12 {
                        out.push_str(&h.to_string());
                    } else {
                        out.push_str(&format!("{h:02}"));
                    }
                }
                Std::Minute => out.push_str(&c.min.to_string()),
                Std::ZeroMinute => out.push_str(&format!("{:02}", c.min)),
                Std::Second => out.push_str(&c.sec.to_string()),
                Std::ZeroSecond => out.push_str(&format!("{:02}", c.sec)),
                Std::LongYear => {
                    if c.year < 0 {
                        out.push_str(&format!("-{:04}", -c.year));
                    } else {
                        out.push_str(&format!("{:04}", c.year));
                    }
                }
                Std::Year => out.push_str(&format!("{:02}", c.year.rem_euclid(100))),
                Std::PM => out.push_str(if c.hour >= 12 { "PM" } else { "AM" }),
                Std::Pm => out.push_str(if c.hour >= 12 { "pm" } else { "am" }),
                Std::Tz => out.push_str("UTC"),
                Std::IsoTz => out.push('Z'),
                Std::NumTz(s) => out.push_str(s),
                Std::Frac { digits, trim, sep } => {
                    let s = format!("{:09}", self.nanos);
                    let mut d = &s[..digits.min(9)];
                    if trim {
                        d = d.trim_end_matches('0');
                        if d.is_empty() {
                            rest = suffix;
                            continue;
                        }
                    }
                    out.push(sep);
                    out.push_str(d);
                }
            }
            rest = suffix;
        }
        out
    }
}

impl fmt::Display for Time {
    /// Go's `Time.String()`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.format("2006-01-02 15:04:05.999999999 -0700 MST"))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Std {
    None,
    LongMonth,
    Month,
    NumMonth,
    ZeroMonth,
    LongWeekDay,
    WeekDay,
    Day,
    UnderDay,
    ZeroDay,
    UnderYearDay,
    ZeroYearDay,
    Hour,
    Hour12,
    ZeroHour12,
    Minute,
    ZeroMinute,
    Second,
    ZeroSecond,
    LongYear,
    Year,
    PM,
    Pm,
    Tz,
    IsoTz,
    NumTz(&'static str),
    Frac {
        digits: usize,
        trim: bool,
        sep: char,
    },
}

fn starts_lower(s: &str) -> bool {
    s.as_bytes().first().is_some_and(u8::is_ascii_lowercase)
}

/// Go's `nextStdChunk`: splits off the literal prefix and the first layout element.
fn next_std_chunk(layout: &str) -> (&str, Std, &str) {
    let b = layout.as_bytes();
    let at = |i: usize, pat: &str| layout.get(i..).is_some_and(|s| s.starts_with(pat));
    for i in 0..b.len() {
        let split = |n: usize, std: Std| (&layout[..i], std, &layout[i + n..]);
        match b[i] {
            b'J' if at(i, "Jan") => {
                if at(i, "January") {
                    return split(7, Std::LongMonth);
                }
                if !starts_lower(&layout[i + 3..]) {
                    return split(3, Std::Month);
                }
            }
            b'M' => {
                if at(i, "Monday") {
                    return split(6, Std::LongWeekDay);
                }
                if at(i, "Mon") && !starts_lower(&layout[i + 3..]) {
                    return split(3, Std::WeekDay);
                }
                if at(i, "MST") {
                    return split(3, Std::Tz);
                }
            }
            b'0' => {
                if let Some(d @ b'1'..=b'6') = b.get(i + 1) {
                    let std = [
                        Std::ZeroMonth,
                        Std::ZeroDay,
                        Std::ZeroHour12,
                        Std::ZeroMinute,
                        Std::ZeroSecond,
                        Std::Year,
                    ][usize::from(d - b'1')];
                    return split(2, std);
                }
                if at(i, "002") {
                    return split(3, Std::ZeroYearDay);
                }
            }
            b'1' => {
                if at(i, "15") {
                    return split(2, Std::Hour);
                }
                return split(1, Std::NumMonth);
            }
            b'2' => {
                if at(i, "2006") {
                    return split(4, Std::LongYear);
                }
                return split(1, Std::Day);
            }
            b'_' => {
                if at(i, "_2") {
                    if at(i, "_2006") {
                        return (&layout[..i + 1], Std::LongYear, &layout[i + 5..]);
                    }
                    return split(2, Std::UnderDay);
                }
                if at(i, "__2") {
                    return split(3, Std::UnderYearDay);
                }
            }
            b'3' => return split(1, Std::Hour12),
            b'4' => return split(1, Std::Minute),
            b'5' => return split(1, Std::Second),
            b'P' if at(i, "PM") => return split(2, Std::PM),
            b'p' if at(i, "pm") => return split(2, Std::Pm),
            b'-' => {
                for (pat, out) in [
                    ("-070000", "+000000"),
                    ("-07:00:00", "+00:00:00"),
                    ("-0700", "+0000"),
                    ("-07:00", "+00:00"),
                    ("-07", "+00"),
                ] {
                    if at(i, pat) {
                        return split(pat.len(), Std::NumTz(out));
                    }
                }
            }
            b'Z' => {
                for pat in ["Z070000", "Z07:00:00", "Z0700", "Z07:00", "Z07"] {
                    if at(i, pat) {
                        return split(pat.len(), Std::IsoTz);
                    }
                }
            }
            c @ (b'.' | b',') => {
                if let Some(&d @ (b'0' | b'9')) = b.get(i + 1) {
                    let mut j = i + 1;
                    while b.get(j) == Some(&d) {
                        j += 1;
                    }
                    if !b.get(j).is_some_and(u8::is_ascii_digit) {
                        let std = Std::Frac {
                            digits: j - (i + 1),
                            trim: d == b'9',
                            sep: c as char,
                        };
                        return (&layout[..i], std, &layout[j..]);
                    }
                }
            }
            _ => {}
        }
    }
    (layout, Std::None, "")
}
