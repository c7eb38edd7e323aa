//! The `Authorization` header both services read.
//!
//! RFC 9110 §11.1 makes the authentication scheme case-insensitive and lets
//! one or more spaces separate it from the credentials: `Bearer x`,
//! `bearer x` and `BEARER  x` all present the token `x`.

/// The credentials of a `Bearer` authorization value, or `None` when the
/// value uses another scheme or carries no credentials.
///
/// ```
/// use license_common::auth::bearer;
/// assert_eq!(bearer("Bearer lst1_abc"), Some("lst1_abc"));
/// assert_eq!(bearer("bearer  lst1_abc "), Some("lst1_abc"));
/// assert_eq!(bearer("Basic dXNlcjpwYXNz"), None);
/// assert_eq!(bearer("Bearer"), None);
/// ```
pub fn bearer(value: &str) -> Option<&str> {
    let (scheme, rest) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = rest.trim_matches(' ');
    (!token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::bearer;

    #[test]
    fn the_scheme_is_case_insensitive_and_the_token_is_not() {
        for value in ["Bearer T0k", "bearer T0k", "BEARER T0k", "bEaReR   T0k", "Bearer T0k  "] {
            assert_eq!(bearer(value), Some("T0k"), "{value:?}");
        }
    }

    #[test]
    fn other_schemes_and_empty_credentials_present_nothing() {
        for value in ["", "Bearer", "Bearer ", "Bearer    ", "Bearerx T0k", "Basic T0k", " Bearer T0k", "Token T0k"] {
            assert_eq!(bearer(value), None, "{value:?}");
        }
    }
}
