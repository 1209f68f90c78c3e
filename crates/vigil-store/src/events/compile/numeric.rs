//! Numeric bounds split per stored number type.
//!
//! tantivy keeps a JSON number in one of three term types, chosen by
//! `NumericalValue::normalize`: i64 for integral values that fit (also
//! `2.0`), u64 for integral values above `i64::MAX`, f64 for the rest
//! (non-integral, or integral beyond the u64 range). Terms of one type sort
//! by value, so a numeric range is one key range per type, with the query's
//! bounds translated into that type (rounding inwards, never losing a value).

use std::ops::Bound::{self, Excluded, Included, Unbounded};

use tantivy::columnar::NumericalValue as Num;

/// 2⁶³ (the first value above `i64::MAX`) and 2⁶⁴, exact in f64.
const TWO_63: f64 = 9_223_372_036_854_775_808.0;
const TWO_64: f64 = 18_446_744_073_709_551_616.0;

/// The bounds of one type's section, or `None` when the range holds no
/// value of that type.
pub type Section<T> = Option<(Bound<T>, Bound<T>)>;

/// Bounds are expected normalized (as `schema::parse_number` returns them).
pub fn i64_section(lower: &Bound<Num>, upper: &Bound<Num>) -> Section<i64> {
    Some((i64_lower(lower)?, i64_upper(upper)?))
}

pub fn u64_section(lower: &Bound<Num>, upper: &Bound<Num>) -> Section<u64> {
    Some((u64_lower(lower)?, u64_upper(upper)?))
}

pub fn f64_section(lower: &Bound<Num>, upper: &Bound<Num>) -> Section<f64> {
    Some((map(lower, as_f64), map(upper, as_f64)))
}

fn i64_lower(bound: &Bound<Num>) -> Option<Bound<i64>> {
    Some(match bound {
        Unbounded => Unbounded,
        Included(Num::I64(i)) => Included(*i),
        Excluded(Num::I64(i)) => Excluded(*i),
        // Normalized u64s are above every i64.
        Included(Num::U64(_)) | Excluded(Num::U64(_)) => return None,
        Included(Num::F64(f)) | Excluded(Num::F64(f)) => {
            if *f >= TWO_63 {
                return None;
            }
            if *f < -TWO_63 {
                Unbounded
            } else {
                float_lower(*f, is_included(bound), |x| x as i64)
            }
        }
    })
}

fn i64_upper(bound: &Bound<Num>) -> Option<Bound<i64>> {
    Some(match bound {
        Unbounded => Unbounded,
        Included(Num::I64(i)) => Included(*i),
        Excluded(Num::I64(i)) => Excluded(*i),
        Included(Num::U64(_)) | Excluded(Num::U64(_)) => Unbounded,
        Included(Num::F64(f)) | Excluded(Num::F64(f)) => {
            if *f < -TWO_63 {
                return None;
            }
            if *f >= TWO_63 {
                Unbounded
            } else {
                float_upper(*f, is_included(bound), |x| x as i64)
            }
        }
    })
}

/// The u64 section only holds values above `i64::MAX`.
fn u64_lower(bound: &Bound<Num>) -> Option<Bound<u64>> {
    Some(match bound {
        Unbounded | Included(Num::I64(_)) | Excluded(Num::I64(_)) => Unbounded,
        Included(Num::U64(u)) => Included(*u),
        Excluded(Num::U64(u)) => Excluded(*u),
        Included(Num::F64(f)) | Excluded(Num::F64(f)) => {
            if *f >= TWO_64 {
                return None;
            }
            if *f < TWO_63 {
                Unbounded
            } else {
                float_lower(*f, is_included(bound), |x| x as u64)
            }
        }
    })
}

fn u64_upper(bound: &Bound<Num>) -> Option<Bound<u64>> {
    Some(match bound {
        Unbounded => Unbounded,
        Included(Num::I64(_)) | Excluded(Num::I64(_)) => return None,
        Included(Num::U64(u)) => Included(*u),
        Excluded(Num::U64(u)) => Excluded(*u),
        Included(Num::F64(f)) | Excluded(Num::F64(f)) => {
            if *f < TWO_63 {
                return None;
            }
            if *f >= TWO_64 {
                Unbounded
            } else {
                float_upper(*f, is_included(bound), |x| x as u64)
            }
        }
    })
}

/// An in-range float lower bound as an integer bound: `> 1.5` is `>= 2`.
fn float_lower<T>(f: f64, included: bool, cast: impl Fn(f64) -> T) -> Bound<T> {
    if f.fract() == 0.0 && !included {
        Excluded(cast(f))
    } else {
        Included(cast(f.ceil()))
    }
}

/// An in-range float upper bound as an integer bound: `< 1.5` is `<= 1`.
fn float_upper<T>(f: f64, included: bool, cast: impl Fn(f64) -> T) -> Bound<T> {
    if f.fract() == 0.0 && !included {
        Excluded(cast(f))
    } else {
        Included(cast(f.floor()))
    }
}

fn is_included<T>(bound: &Bound<T>) -> bool {
    matches!(bound, Included(_))
}

fn as_f64(n: &Num) -> f64 {
    match n {
        Num::I64(i) => *i as f64,
        Num::U64(u) => *u as f64,
        Num::F64(f) => *f,
    }
}

fn map<T, U>(bound: &Bound<T>, f: impl Fn(&T) -> U) -> Bound<U> {
    match bound {
        Included(v) => Included(f(v)),
        Excluded(v) => Excluded(f(v)),
        Unbounded => Unbounded,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_bounds_round_inwards_for_integers() {
        let lower = Excluded(Num::F64(1.5));
        let upper = Included(Num::F64(9.5));
        assert_eq!(
            i64_section(&lower, &upper),
            Some((Included(2), Included(9)))
        );
        assert_eq!(u64_section(&lower, &upper), None);
        assert_eq!(
            f64_section(&lower, &upper),
            Some((Excluded(1.5), Included(9.5)))
        );
    }

    #[test]
    fn integer_bounds_keep_their_kind() {
        let lower = Excluded(Num::I64(-3));
        let upper = Unbounded;
        assert_eq!(i64_section(&lower, &upper), Some((Excluded(-3), Unbounded)));
        assert_eq!(u64_section(&lower, &upper), Some((Unbounded, Unbounded)));
        assert_eq!(
            f64_section(&lower, &upper),
            Some((Excluded(-3.0), Unbounded))
        );
    }

    #[test]
    fn huge_bounds_select_the_right_sections() {
        let big = Num::U64(u64::MAX - 1);
        assert_eq!(i64_section(&Included(big), &Unbounded), None);
        assert_eq!(
            u64_section(&Included(big), &Unbounded),
            Some((Included(u64::MAX - 1), Unbounded))
        );
        assert_eq!(
            i64_section(&Unbounded, &Included(Num::F64(1e300))),
            Some((Unbounded, Unbounded))
        );
        assert_eq!(i64_section(&Included(Num::F64(1e300)), &Unbounded), None);
        assert_eq!(u64_section(&Unbounded, &Excluded(Num::I64(5))), None);
    }
}
