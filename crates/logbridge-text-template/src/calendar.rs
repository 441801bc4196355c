//! Days since the Unix epoch to a calendar date, for the templates' Go time
//! formatting and PromQL's date functions (which use it from here).
//! Hand-written (a few lines of integer arithmetic) because both must cover
//! the whole range of a millisecond timestamp, beyond what date crates
//! accept.

/// Year, month (1-12) and day (1-31) of a count of days since 1970-01-01,
/// in the proleptic Gregorian calendar (the "days from civil" algorithm,
/// run backwards).
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}
