//! Whether text is a log: `vigil hunt` reads a folder's files by their
//! content, and skips prose (a README, a licence) that has no times.

/// A log line carries when it happened: a time of day (`10:01`), a date
/// (`2024-01-31`, `2005.06.03`), an epoch time (ten digits), a
/// `yymmdd hhmmss` pair, or a syslog priority (`<34>`). Prose (a README,
/// a licence) seldom does.
pub fn looks_like_a_log_line(line: &str) -> bool {
    let b = line.trim_start().as_bytes();
    let digits_at =
        |i: usize, n: usize| i + n <= b.len() && b[i..i + n].iter().all(u8::is_ascii_digit);
    let digit_run_at = |i: usize| b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
    if b.first() == Some(&b'<') && digit_run_at(1) > 0 {
        let n = digit_run_at(1);
        if b.get(1 + n) == Some(&b'>') {
            return true;
        }
    }
    if digits_at(0, 6) && b.get(6) == Some(&b' ') && digits_at(7, 6) {
        return true;
    }
    for i in 0..b.len() {
        let starts_run = i == 0 || !b[i - 1].is_ascii_digit();
        if !starts_run || !b[i].is_ascii_digit() {
            continue;
        }
        let run = digit_run_at(i);
        let next = b.get(i + run).copied();
        // 10:01 (a time of day)
        if (1..=2).contains(&run) && next == Some(b':') && digits_at(i + run + 1, 2) {
            return true;
        }
        // 2024-01-31, 2005.06.03, 2024/01/31
        if run == 4 && matches!(next, Some(b'-' | b'.' | b'/')) {
            let rest = i + 5;
            let month = digit_run_at(rest.min(b.len()));
            if (1..=2).contains(&month)
                && b.get(rest + month) == next.as_ref()
                && digits_at(rest + month + 1, 1)
            {
                return true;
            }
        }
        // 1117838570: seconds since 1970, 2001 to 2033
        if run == 10 && b[i] == b'1' {
            return true;
        }
    }
    false
}

/// Whether most of the first `sample` non-blank lines of `head` look like
/// log lines.
pub fn looks_like_a_log(head: &str, sample: usize) -> bool {
    let sample: Vec<&str> = head
        .lines()
        .filter(|l| !l.trim().is_empty())
        .take(sample)
        .collect();
    let dated = sample.iter().filter(|l| looks_like_a_log_line(l)).count();
    !sample.is_empty() && dated * 2 >= sample.len()
}
