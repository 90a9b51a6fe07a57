//! JavaScript's `Number.prototype.toString()`, so messages that quote a number read exactly as
//! the official client's do (`1e+21`, `1e-7`, `0.000001`, `NaN`).

/// Formats `n` as JavaScript's `String(n)` does (ECMAScript `Number::toString`, radix 10).
pub fn js_number_to_string(n: f64) -> String {
    if n.is_nan() {
        return "NaN".to_owned();
    }
    if n == 0.0 {
        // Both zeros print as "0" in JavaScript.
        return "0".to_owned();
    }
    if n.is_infinite() {
        return if n > 0.0 { "Infinity" } else { "-Infinity" }.to_owned();
    }
    if n < 0.0 {
        return format!("-{}", js_number_to_string(-n));
    }
    // Rust's `{:e}` gives the same shortest round-tripping digits JavaScript picks, as
    // "d.ddde±x"; only the layout around them differs.
    let scientific = format!("{n:e}");
    let (mantissa, exponent) = scientific
        .split_once('e')
        .expect("`{:e}` always writes an exponent");
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let exponent: i32 = exponent.parse().expect("`{:e}` writes a decimal exponent");
    layout(&digits, exponent + 1)
}

/// ECMAScript's layout for `0.digits × 10^point`, `digits` without leading or trailing zeros.
fn layout(digits: &str, point: i32) -> String {
    let k = digits.len() as i32;
    if k <= point && point <= 21 {
        format!("{digits}{}", "0".repeat((point - k) as usize))
    } else if 0 < point && point <= 21 {
        let (whole, fraction) = digits.split_at(point as usize);
        format!("{whole}.{fraction}")
    } else if -6 < point && point <= 0 {
        format!("0.{}{digits}", "0".repeat((-point) as usize))
    } else {
        let exponent = point - 1;
        let sign = if exponent < 0 { '-' } else { '+' };
        let (first, rest) = digits.split_at(1);
        let rest = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        format!("{first}{rest}e{sign}{}", exponent.abs())
    }
}

#[cfg(test)]
mod tests {
    use super::js_number_to_string as js;

    #[test]
    fn matches_javascript_string_conversion() {
        // Expected strings are what node prints for `String(x)`.
        let cases: &[(f64, &str)] = &[
            (1.5, "1.5"),
            (100.0, "100"),
            (-0.0, "0"),
            (0.1, "0.1"),
            (123.456, "123.456"),
            (1e21, "1e+21"),
            (1e20, "100000000000000000000"),
            (1.5e21, "1.5e+21"),
            (0.000001, "0.000001"),
            (1e-7, "1e-7"),
            (1.25e-7, "1.25e-7"),
            (5e-324, "5e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
            (-2.5, "-2.5"),
            (9007199254740991.0, "9007199254740991"),
            (f64::NAN, "NaN"),
            (f64::NEG_INFINITY, "-Infinity"),
        ];
        for (n, expected) in cases {
            assert_eq!(js(*n), *expected, "{n:e}");
        }
    }
}
