//! Paging and ordering of `GET /v1/organizations` and the membership lists,
//! which answer `{data:[…], total_count}` (unlike `GET /v1/users`).

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use crate::error::EmulatorError;

const MAX_LIMIT: u64 = 500;
const DEFAULT_LIMIT: u64 = 10;

/// Query of `GET /v1/organizations`. Clerk's filters (query, user_id, …)
/// are not emulated; unknown parameters are ignored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ListOrganizations {
    /// 1..=500, default 10.
    pub limit: Option<u64>,
    pub offset: Option<u64>,
    /// `name`, `created_at` or `members_count`, with an optional `+`
    /// (implied) or `-` prefix; default `-created_at`.
    pub order_by: Option<String>,
    /// Adds `members_count` to each organization.
    pub include_members_count: Option<bool>,
}

/// Query of the membership lists. Only `created_at` ordering is emulated
/// (default `-created_at`); filters are ignored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ListMemberships {
    pub limit: Option<u64>,
    pub offset: Option<u64>,
    pub order_by: Option<String>,
}

/// A validated `order_by`: a field name and a direction.
pub(crate) struct Order<'a> {
    pub field: &'a str,
    pub descending: bool,
}

impl<'a> Order<'a> {
    /// Parses `[+|-]field`, accepting only `fields`.
    pub(crate) fn parse(
        order_by: Option<&'a str>,
        fields: &[&str],
        what: &str,
    ) -> Result<Self, EmulatorError> {
        let order_by = order_by.unwrap_or("-created_at");
        let (descending, field) = match order_by.strip_prefix('-') {
            Some(field) => (true, field),
            None => (false, order_by.strip_prefix('+').unwrap_or(order_by)),
        };
        if !fields.contains(&field) {
            return Err(EmulatorError::invalid_param(
                "order_by",
                format!(
                    "cannot order {what} by `{field}`; use one of {}.",
                    fields.join(", ")
                ),
            ));
        }
        Ok(Self { field, descending })
    }

    /// Sorts positions `0..len` by `compare`, ties broken by position (creation
    /// order) in the same direction so pages never shuffle.
    pub(crate) fn sort(
        &self,
        len: usize,
        compare: impl Fn(usize, usize) -> Ordering,
    ) -> Vec<usize> {
        let mut order: Vec<usize> = (0..len).collect();
        order.sort_by(|&i, &j| {
            let ord = compare(i, j).then(i.cmp(&j));
            if self.descending { ord.reverse() } else { ord }
        });
        order
    }
}

/// The `(offset, limit)` window, checked like Clerk checks it.
pub(crate) fn window(
    limit: Option<u64>,
    offset: Option<u64>,
) -> Result<(usize, usize), EmulatorError> {
    let limit = limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(EmulatorError::invalid_param(
            "limit",
            format!("limit must be between 1 and {MAX_LIMIT}."),
        ));
    }
    let to_usize = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
    Ok((to_usize(offset.unwrap_or(0)), to_usize(limit)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_and_window_are_checked() {
        let order = Order::parse(None, &["created_at"], "memberships").unwrap();
        assert!(order.descending);
        assert_eq!(order.field, "created_at");
        let order = Order::parse(Some("+name"), &["name"], "organizations").unwrap();
        assert!(!order.descending);
        assert!(Order::parse(Some("email"), &["name"], "organizations").is_err());
        assert_eq!(window(None, None).unwrap(), (0, 10));
        assert!(window(Some(0), None).is_err());
        assert!(window(Some(501), None).is_err());
        // Newest first by default, ties in reverse creation order.
        let order = Order::parse(None, &["created_at"], "x").unwrap();
        let created = [5, 7, 7];
        assert_eq!(order.sort(3, |i, j| created[i].cmp(&created[j])), [2, 1, 0]);
    }
}
