//! Index ranges as function code writes them (`eq` on leading fields, then bounds on the next)
//! and the byte intervals they become.

use keel_values::Value;
use keel_values::key::{encode_key_part, encode_string_prefix, prefix_successor};
use serde_json::Value as Json;

use crate::schema::ResolvedIndex;
use crate::{Result, StoreError};

/// A half-open interval of index keys: `start` inclusive, `end` exclusive (`None` = no end).
/// An empty `start` is the smallest key.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct KeyRange {
    pub start: Vec<u8>,
    pub end: Option<Vec<u8>>,
}

impl KeyRange {
    pub fn all() -> Self {
        KeyRange {
            start: Vec::new(),
            end: None,
        }
    }

    pub fn contains(&self, key: &[u8]) -> bool {
        key >= self.start.as_slice() && self.end.as_deref().is_none_or(|end| key < end)
    }

    pub fn is_empty(&self) -> bool {
        self.end
            .as_deref()
            .is_some_and(|end| end <= self.start.as_slice())
    }
}

/// The smallest key strictly greater than `key`.
pub(crate) fn key_after(key: &[u8]) -> Vec<u8> {
    let mut next = key.to_vec();
    next.push(0);
    next
}

#[derive(Clone, Debug)]
enum Bound {
    Gt(Json),
    Gte(Json),
    Lt(Json),
    Lte(Json),
    /// Strings starting with this text (both bounds at once).
    Prefix(String),
}

/// Built by function code inside `with_index(name, |r| r.eq("userId", id).gte("createdAt", t))`.
#[derive(Clone, Debug, Default)]
pub struct IndexRange {
    eq: Vec<(String, Json)>,
    bounds: Vec<(String, Bound)>,
}

impl IndexRange {
    pub fn eq(mut self, field: &str, value: impl Into<Json>) -> Self {
        self.eq.push((field.to_string(), value.into()));
        self
    }

    pub fn gt(self, field: &str, value: impl Into<Json>) -> Self {
        self.bound(field, Bound::Gt(value.into()))
    }

    pub fn gte(self, field: &str, value: impl Into<Json>) -> Self {
        self.bound(field, Bound::Gte(value.into()))
    }

    pub fn lt(self, field: &str, value: impl Into<Json>) -> Self {
        self.bound(field, Bound::Lt(value.into()))
    }

    pub fn lte(self, field: &str, value: impl Into<Json>) -> Self {
        self.bound(field, Bound::Lte(value.into()))
    }

    /// String values of `field` that start with `prefix` (case-sensitive, by bytes): the
    /// lower and the upper bound at once, so no other bound may be set on the field. Other
    /// types (numbers, null, a missing field) are outside every prefix range.
    pub fn prefix(self, field: &str, prefix: impl Into<String>) -> Self {
        self.bound(field, Bound::Prefix(prefix.into()))
    }

    fn bound(mut self, field: &str, bound: Bound) -> Self {
        self.bounds.push((field.to_string(), bound));
        self
    }

    /// Checks the range against the index (fields in index order, bounds only on the field
    /// after the equalities) and turns it into a key interval.
    pub(crate) fn to_key_range(&self, index: &ResolvedIndex) -> Result<KeyRange> {
        Ok(self.to_key_range_and_prefix(index)?.0)
    }

    /// [`Self::to_key_range`], and the bytes every key in it starts with: the encoded `eq`
    /// values (empty without any).
    pub(crate) fn to_key_range_and_prefix(
        &self,
        index: &ResolvedIndex,
    ) -> Result<(KeyRange, Vec<u8>)> {
        // Every index ends with `_creationTime`, which ranges may use like a declared field.
        let mut field_names: Vec<String> = index.fields.iter().map(|f| f.join(".")).collect();
        field_names.push("_creationTime".to_string());
        let mut prefix = Vec::new();
        for (position, (field, value)) in self.eq.iter().enumerate() {
            match field_names.get(position) {
                Some(expected) if expected == field => {
                    encode_key_part(Some(&decode(field, value)?), &mut prefix)
                }
                _ => return Err(out_of_order(index, &field_names, field, position)),
            }
        }
        let mut start = prefix.clone();
        let mut end = prefix_successor(&prefix);
        let bound_position = self.eq.len();
        let mut lower_set = false;
        let mut upper_set = false;
        for (field, bound) in &self.bounds {
            if field_names.get(bound_position) != Some(field) {
                return Err(out_of_order(index, &field_names, field, bound_position));
            }
            let sides: &[bool] = match bound {
                Bound::Gt(_) | Bound::Gte(_) => &[true],
                Bound::Lt(_) | Bound::Lte(_) => &[false],
                Bound::Prefix(_) => &[true, false],
            };
            for &is_lower in sides {
                let already = if is_lower {
                    &mut lower_set
                } else {
                    &mut upper_set
                };
                if *already {
                    return Err(StoreError::InvalidArgument(format!(
                        "Index range on {} sets two {} bounds for `{field}`",
                        index.name,
                        if is_lower { "lower" } else { "upper" }
                    )));
                }
                *already = true;
            }
            let mut with_value = prefix.clone();
            match bound {
                Bound::Gt(v) | Bound::Gte(v) | Bound::Lt(v) | Bound::Lte(v) => {
                    encode_key_part(Some(&decode(field, v)?), &mut with_value)
                }
                Bound::Prefix(text) => encode_string_prefix(text, &mut with_value),
            }
            match bound {
                Bound::Gte(_) => start = with_value,
                Bound::Gt(_) => start = prefix_successor(&with_value).unwrap_or(with_value),
                Bound::Lt(_) => end = Some(with_value),
                Bound::Lte(_) => end = prefix_successor(&with_value),
                Bound::Prefix(_) => {
                    end = prefix_successor(&with_value);
                    start = with_value;
                }
            }
        }
        Ok((KeyRange { start, end }, prefix))
    }
}

fn decode(field: &str, value: &Json) -> Result<Value> {
    Value::from_encoded_json(value)
        .map_err(|e| StoreError::InvalidArgument(format!("Invalid value for `{field}`: {e}")))
}

fn out_of_order(
    index: &ResolvedIndex,
    fields: &[String],
    got: &str,
    position: usize,
) -> StoreError {
    let expected = fields
        .get(position)
        .map(|f| format!("`{f}`"))
        .unwrap_or_else(|| "no more fields".to_string());
    StoreError::InvalidArgument(format!(
        "Index range on {} must use fields in index order ({}): expected {expected} at position {position}, got `{got}`",
        index.name,
        fields.join(", ")
    ))
}
