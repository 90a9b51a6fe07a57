//! `GET /v1/users` paging and ordering.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use crate::error::EmulatorError;
use crate::user::User;

/// Query of `GET /v1/users`. Clerk's filters (email_address, query, …) are
/// not emulated; unknown parameters are ignored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ListUsers {
    /// 1..=500, default 10.
    pub limit: Option<u64>,
    pub offset: Option<u64>,
    /// A field with an optional `+` (ascending, implied) or `-` (descending)
    /// prefix; default `-created_at`.
    pub order_by: Option<String>,
    /// Cursor: the id of the last user of the previous page (created_at orderings only).
    pub starting_after: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    CreatedAt,
    UpdatedAt,
    EmailAddress,
    PhoneNumber,
    Username,
    FirstName,
    LastName,
    LastSignInAt,
    LastActiveAt,
}

impl Field {
    fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "created_at" => Self::CreatedAt,
            "updated_at" => Self::UpdatedAt,
            "email_address" => Self::EmailAddress,
            "phone_number" => Self::PhoneNumber,
            "username" => Self::Username,
            "first_name" => Self::FirstName,
            "last_name" => Self::LastName,
            "last_sign_in_at" => Self::LastSignInAt,
            "last_active_at" => Self::LastActiveAt,
            _ => return None,
        })
    }

    /// Missing values sort before present ones (as `Option` does).
    fn compare(self, a: &User, b: &User) -> Ordering {
        match self {
            Self::CreatedAt => a.created_at.cmp(&b.created_at),
            Self::UpdatedAt => a.updated_at.cmp(&b.updated_at),
            Self::EmailAddress => a.primary_email().cmp(&b.primary_email()),
            Self::PhoneNumber => a.primary_phone().cmp(&b.primary_phone()),
            Self::Username => a.username.cmp(&b.username),
            Self::FirstName => a.first_name.cmp(&b.first_name),
            Self::LastName => a.last_name.cmp(&b.last_name),
            Self::LastSignInAt => a.last_sign_in_at.cmp(&b.last_sign_in_at),
            Self::LastActiveAt => a.last_active_at.cmp(&b.last_active_at),
        }
    }
}

const MAX_LIMIT: u64 = 500;
const DEFAULT_LIMIT: u64 = 10;

impl ListUsers {
    /// The requested page of `users` (kept in creation order by the store).
    pub(crate) fn page<'a>(&self, users: &'a [User]) -> Result<Vec<&'a User>, EmulatorError> {
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(EmulatorError::invalid_param(
                "limit",
                format!("limit must be between 1 and {MAX_LIMIT}."),
            ));
        }
        let offset = self.offset.unwrap_or(0);
        let order_by = self.order_by.as_deref().unwrap_or("-created_at");
        let (descending, name) = match order_by.strip_prefix('-') {
            Some(name) => (true, name),
            None => (false, order_by.strip_prefix('+').unwrap_or(order_by)),
        };
        let field = Field::parse(name).ok_or_else(|| {
            EmulatorError::invalid_param("order_by", format!("cannot order users by `{name}`."))
        })?;

        // Sort positions, not users: ties (same millisecond) fall back to
        // creation order in the same direction, so pages never shuffle.
        let mut order: Vec<usize> = (0..users.len()).collect();
        order.sort_by(|&i, &j| {
            let ord = field.compare(&users[i], &users[j]).then(i.cmp(&j));
            if descending { ord.reverse() } else { ord }
        });

        let start = match &self.starting_after {
            None => usize::try_from(offset).unwrap_or(usize::MAX),
            Some(cursor) => {
                if field != Field::CreatedAt {
                    return Err(EmulatorError::invalid_param(
                        "starting_after",
                        "starting_after requires ordering by created_at.",
                    ));
                }
                if offset != 0 {
                    return Err(EmulatorError::invalid_param(
                        "offset",
                        "offset cannot be combined with starting_after.",
                    ));
                }
                let at = order
                    .iter()
                    .position(|&i| users[i].id == *cursor)
                    .ok_or_else(|| {
                        EmulatorError::invalid_param(
                            "starting_after",
                            format!("no user with id {cursor}."),
                        )
                    })?;
                at + 1
            }
        };
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        Ok(order
            .into_iter()
            .skip(start)
            .take(limit)
            .map(|i| &users[i])
            .collect())
    }
}
