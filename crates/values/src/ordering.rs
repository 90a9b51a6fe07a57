//! Convex's total order on values, which index ranges and `Eq`/`Hash` are defined by.

use std::cmp::Ordering;
use std::hash::{Hash, Hasher};

use crate::Value;

impl Value {
    /// Convex's total order: `Null < Int64 < Float64 < Boolean < String < Bytes < Array <
    /// Object` across types (a missing field, `None` in an `Option<&Value>`, sorts before all of
    /// them). Within a type: numbers numerically with `-0.0 < 0.0` and every NaN equal and after
    /// `+Infinity`; `false < true`; strings and bytes by their bytes; arrays element by element
    /// and objects by their sorted `(key, value)` pairs, a proper prefix first.
    pub fn total_cmp(&self, other: &Value) -> Ordering {
        match (self, other) {
            (Value::Null, Value::Null) => Ordering::Equal,
            (Value::Int64(a), Value::Int64(b)) => a.cmp(b),
            (Value::Float64(a), Value::Float64(b)) => float_cmp(*a, *b),
            (Value::Boolean(a), Value::Boolean(b)) => a.cmp(b),
            (Value::String(a), Value::String(b)) => a.as_bytes().cmp(b.as_bytes()),
            (Value::Bytes(a), Value::Bytes(b)) => a.cmp(b),
            (Value::Array(a), Value::Array(b)) => a.iter().cmp(b.iter()),
            (Value::Object(a), Value::Object(b)) => a.iter().cmp(b.iter()),
            _ => type_rank(self).cmp(&type_rank(other)),
        }
    }
}

/// Position of a value's type in the cross-type order.
fn type_rank(value: &Value) -> u8 {
    match value {
        Value::Null => 0,
        Value::Int64(_) => 1,
        Value::Float64(_) => 2,
        Value::Boolean(_) => 3,
        Value::String(_) => 4,
        Value::Bytes(_) => 5,
        Value::Array(_) => 6,
        Value::Object(_) => 7,
    }
}

/// IEEE total order, except that NaNs (whatever their sign or payload) are one value, placed
/// last: JavaScript cannot tell NaNs apart, so neither do we.
fn float_cmp(a: f64, b: f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) => a.total_cmp(&b),
    }
}

/// The bits a float is hashed by: one pattern for all NaNs, to agree with `float_cmp`.
pub(crate) fn canonical_float_bits(n: f64) -> u64 {
    if n.is_nan() {
        f64::NAN.to_bits()
    } else {
        n.to_bits()
    }
}

impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        self.total_cmp(other) == Ordering::Equal
    }
}

impl Eq for Value {}

impl PartialOrd for Value {
    fn partial_cmp(&self, other: &Value) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Value {
    fn cmp(&self, other: &Value) -> Ordering {
        self.total_cmp(other)
    }
}

impl Hash for Value {
    fn hash<H: Hasher>(&self, state: &mut H) {
        type_rank(self).hash(state);
        match self {
            Value::Null => {}
            Value::Int64(n) => n.hash(state),
            Value::Float64(n) => canonical_float_bits(*n).hash(state),
            Value::Boolean(b) => b.hash(state),
            Value::String(s) => s.hash(state),
            Value::Bytes(b) => b.hash(state),
            Value::Array(items) => items.hash(state),
            Value::Object(fields) => fields.hash(state),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_order_as_convex_documents() {
        let ascending = [
            Value::Null,
            Value::Int64(i64::MAX),
            Value::Float64(f64::NEG_INFINITY),
            Value::Boolean(false),
            Value::String(String::new()),
            Value::Bytes(vec![]),
            Value::Array(vec![]),
            Value::Object(Default::default()),
        ];
        for pair in ascending.windows(2) {
            assert_eq!(pair[0].total_cmp(&pair[1]), Ordering::Less, "{pair:?}");
        }
    }

    #[test]
    fn floats_put_negative_zero_first_and_nan_last() {
        let nan = Value::Float64(f64::NAN);
        let negative_nan = Value::Float64(-f64::NAN);
        assert_eq!(nan, negative_nan);
        assert!(Value::Float64(-0.0) < Value::Float64(0.0));
        assert!(Value::Float64(f64::INFINITY) < nan);
        assert!(negative_nan > Value::Float64(f64::INFINITY));
    }

    #[test]
    fn equal_values_hash_equal() {
        use std::collections::hash_map::DefaultHasher;
        let hash = |v: &Value| {
            let mut h = DefaultHasher::new();
            v.hash(&mut h);
            h.finish()
        };
        let payload_nan = f64::from_bits(f64::NAN.to_bits() | 1);
        assert_eq!(
            hash(&Value::Float64(payload_nan)),
            hash(&Value::Float64(-f64::NAN))
        );
        assert_ne!(hash(&Value::Float64(0.0)), hash(&Value::Float64(-0.0)));
    }
}
