//! Building Graph URLs: path segments percent-encoded (a guest's UPN `a_b.com#EXT#@t.onmicrosoft.com` has a `#`
//! that would otherwise end the path), OData string literals with `'` doubled, `$filter=userPrincipalName in (…)`
//! chunks, and telling object ids from UPNs.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Characters kept as they are in a path segment: RFC 3986 unreserved plus a few sub-delims Graph expects literally
/// (`'` `(` `)` for OData keys, `@` in UPNs). Everything else (`#`, `?`, `/`, `%`, space, `+`) is encoded.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'@')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');

/// Characters kept in a query value: unreserved only (spaces become `%20`, never `+`, which Graph may read as `+`).
const QUERY: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes one path segment.
pub fn segment(s: &str) -> String {
    utf8_percent_encode(s, SEGMENT).to_string()
}

/// Percent-encodes a query value.
pub fn query_value(s: &str) -> String {
    utf8_percent_encode(s, QUERY).to_string()
}

/// An OData string literal: quoted, with `'` doubled (`O'Brien` → `'O''Brien'`).
pub fn string_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The `$filter` expression `userPrincipalName in ('a','b')`.
pub fn upn_in_filter(upns: &[&str]) -> String {
    let list: Vec<String> = upns.iter().map(|u| string_literal(u)).collect();
    format!("userPrincipalName in ({})", list.join(","))
}

/// True when `s` looks like a directory object id (a GUID), which Graph addresses directly; anything else is a UPN.
pub fn is_object_id(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_are_doubled_in_string_literals() {
        assert_eq!(
            string_literal("O'Brien@contoso.com"),
            "'O''Brien@contoso.com'"
        );
        assert_eq!(
            upn_in_filter(&["a@x.com", "o'neil@x.com"]),
            "userPrincipalName in ('a@x.com','o''neil@x.com')"
        );
    }

    #[test]
    fn hash_of_guest_upns_is_encoded_in_paths_and_queries() {
        let guest = "jane_fabrikam.com#EXT#@contoso.onmicrosoft.com";
        assert_eq!(
            segment(guest),
            "jane_fabrikam.com%23EXT%23@contoso.onmicrosoft.com"
        );
        let q = query_value(&upn_in_filter(&[guest, "o'neil@x.com"]));
        assert!(
            !q.contains('#') && !q.contains(' ') && !q.contains('+'),
            "{q}"
        );
        assert!(q.contains("%23EXT%23"));
        assert!(q.contains("o%27%27neil"));
        // Decoding gives back the exact filter.
        let decoded = percent_encoding::percent_decode_str(&q)
            .decode_utf8()
            .unwrap();
        assert_eq!(
            decoded,
            "userPrincipalName in ('jane_fabrikam.com#EXT#@contoso.onmicrosoft.com','o''neil@x.com')"
        );
    }

    #[test]
    fn path_segments_cannot_escape_their_segment() {
        assert_eq!(segment("a/b?c%d e+f"), "a%2Fb%3Fc%25d%20e%2Bf");
    }

    #[test]
    fn object_ids_are_told_from_upns() {
        assert!(is_object_id("4b1f7c1e-2a0e-4c1e-9d4a-0a3f5b6c7d8e"));
        assert!(!is_object_id("CameronW@contoso.com"));
        assert!(!is_object_id("4b1f7c1e-2a0e-4c1e-9d4a-0a3f5b6c7d8"));
    }
}
