//! Dates, in UTC (there is no time zone database): `strftime`, `now()` and the datetime
//! object it returns.

use minijinja::value::Kwargs;
use minijinja::{Error, ErrorKind, State, Value};

use super::filters::{fail, parse_py_float, py_str};

/// Days since 1970-01-01 → (year, month, day) (Howard Hinnant's algorithm).
pub(super) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Python's `time.strftime` for a UTC timestamp (common directives).
pub(super) fn format_time(fmt: &str, epoch: f64) -> String {
    let secs = epoch.floor() as i64;
    let micros = ((epoch - epoch.floor()) * 1e6).round() as i64;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let (hh, mm, ss) = (rem / 3600, (rem % 3600) / 60, rem % 60);
    let weekday = (days + 4).rem_euclid(7) as usize; // 0 = Sunday
    let yday = days - {
        let mut jan1 = days;
        while civil_from_days(jan1 - 1).0 == y {
            jan1 -= 1;
        }
        jan1
    } + 1;
    const DAYS: [&str; 7] = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
    const MONTHS: [&str; 12] =
        ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];
    let month_name = MONTHS[(m as usize).saturating_sub(1).min(11)];
    let mut out = String::new();
    let mut chars = fmt.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('Y') => out.push_str(&y.to_string()),
            Some('y') => out.push_str(&format!("{:02}", y.rem_euclid(100))),
            Some('m') => out.push_str(&format!("{m:02}")),
            Some('d') => out.push_str(&format!("{d:02}")),
            Some('e') => out.push_str(&format!("{d:2}")),
            Some('H') => out.push_str(&format!("{hh:02}")),
            Some('I') => out.push_str(&format!("{:02}", if hh % 12 == 0 { 12 } else { hh % 12 })),
            Some('p') => out.push_str(if hh < 12 { "AM" } else { "PM" }),
            Some('M') => out.push_str(&format!("{mm:02}")),
            Some('S') => out.push_str(&format!("{ss:02}")),
            Some('f') => out.push_str(&format!("{micros:06}")),
            Some('j') => out.push_str(&format!("{yday:03}")),
            Some('a') => out.push_str(&DAYS[weekday][..3]),
            Some('A') => out.push_str(DAYS[weekday]),
            Some('w') => out.push_str(&weekday.to_string()),
            Some('u') => out.push_str(&(if weekday == 0 { 7 } else { weekday }).to_string()),
            Some('b') | Some('h') => out.push_str(&month_name[..3]),
            Some('B') => out.push_str(month_name),
            Some('s') => out.push_str(&secs.to_string()),
            Some('z') => out.push_str("+0000"),
            Some('Z') => out.push_str("UTC"),
            Some('F') => out.push_str(&format!("{y}-{m:02}-{d:02}")),
            Some('T') => out.push_str(&format!("{hh:02}:{mm:02}:{ss:02}")),
            Some('D') => out.push_str(&format!("{m:02}/{d:02}/{:02}", y.rem_euclid(100))),
            Some('R') => out.push_str(&format!("{hh:02}:{mm:02}")),
            Some('c') => out.push_str(&format!("{} {} {d:2} {hh:02}:{mm:02}:{ss:02} {y}", &DAYS[weekday][..3], &month_name[..3])),
            Some('x') => out.push_str(&format!("{m:02}/{d:02}/{:02}", y.rem_euclid(100))),
            Some('X') => out.push_str(&format!("{hh:02}:{mm:02}:{ss:02}")),
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('%') => out.push('%'),
            Some(other) => {
                out.push('%');
                out.push(other);
            }
            None => out.push('%'),
        }
    }
    out
}

pub(super) fn now_epoch() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

/// `strftime(second=None, utc=False)`: the format is the input.
pub(super) fn strftime(fmt: String, second: Option<Value>, kwargs: Kwargs) -> Result<String, Error> {
    let second = kwargs.get::<Option<Value>>("second")?.or(second);
    let _ = kwargs.get::<Option<bool>>("utc")?;
    kwargs.assert_all_used()?;
    let epoch = match second.filter(|s| !s.is_none()) {
        Some(s) => f64::try_from(s.clone())
            .ok()
            .or_else(|| parse_py_float(&py_str(&s)))
            .ok_or_else(|| fail(format!("Invalid value for epoch value ({s})")))?,
        None => now_epoch(),
    };
    Ok(format_time(&fmt, epoch))
}

/// A point in time (UTC), as `now()` returns it: prints like Python's `datetime`, has
/// `year`…`microsecond` and `strftime()`, `isoformat()`, `timestamp()`.
#[derive(Debug)]
pub(super) struct DateTime {
    pub epoch: f64,
}

impl minijinja::value::Object for DateTime {
    fn repr(self: &std::sync::Arc<Self>) -> minijinja::value::ObjectRepr {
        minijinja::value::ObjectRepr::Plain
    }

    fn get_value(self: &std::sync::Arc<Self>, key: &Value) -> Option<Value> {
        let part = |fmt: &str| format_time(fmt, self.epoch).parse::<i64>().ok().map(Value::from);
        match key.as_str()? {
            "year" => part("%Y"),
            "month" => part("%m"),
            "day" => part("%d"),
            "hour" => part("%H"),
            "minute" => part("%M"),
            "second" => part("%S"),
            "microsecond" => part("%f"),
            _ => None,
        }
    }

    fn call_method(self: &std::sync::Arc<Self>, _state: &mut State<'_, '_>, method: &str, args: &[Value]) -> Result<Value, Error> {
        match method {
            "strftime" => {
                let (fmt,): (String,) = minijinja::value::from_args(args)?;
                Ok(Value::from(format_time(&fmt, self.epoch)))
            }
            "isoformat" => Ok(Value::from(format_time("%Y-%m-%dT%H:%M:%S.%f", self.epoch))),
            "timestamp" => Ok(Value::from(self.epoch)),
            _ => Err(Error::new(ErrorKind::UnknownMethod, format!("object of type 'datetime' has no attribute '{method}'"))),
        }
    }

    fn render(self: &std::sync::Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&format_time("%Y-%m-%d %H:%M:%S.%f", self.epoch))
    }
}
