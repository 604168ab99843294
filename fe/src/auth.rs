//! Accounts and password checks, shared by the MySQL and HTTP protocols.

use base64::Engine;

/// The accounts: `root` with an empty password until user management arrives.
pub fn password_of(user: &str) -> Option<&'static str> {
    (user == "root").then_some("")
}

/// The user of an HTTP `Authorization: Basic ...` header whose password is right.
pub fn check_basic(header: Option<&str>) -> Result<String, String> {
    let Some(encoded) = header.and_then(|h| h.strip_prefix("Basic ")) else {
        return Err("no valid Basic authorization".to_string());
    };
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| "malformed Basic authorization".to_string())?;
    let (user, password) = decoded.split_once(':').unwrap_or((&decoded, ""));
    // Doris accepts `user@cluster`-less names only; a `user@host` form is not ours.
    match password_of(user) {
        Some(expected) if expected == password => Ok(user.to_string()),
        _ => Err(format!(
            "Access denied for user '{user}' (using password: {})",
            if password.is_empty() { "NO" } else { "YES" }
        )),
    }
}
