//! The `$filter` parser: the filters authctl sends on `GET /users` (`eq`, `in (…)`, `or`-joined `eq`s on
//! `userPrincipalName` or `id`, OData string literals). Pure: no state, no I/O.

/// A parsed `$filter`: the property (`userPrincipalName` or `id`) and the wanted values.
#[derive(Debug, PartialEq)]
pub(crate) struct Filter {
    pub property: &'static str,
    pub values: Vec<String>,
}

/// Parses the filters authctl sends: `prop eq 'v'`, `prop in ('a','b')`, and `or`-joined `eq`s on one property,
/// with OData string literals (`''` is a quote).
pub(crate) fn parse_filter(s: &str) -> Result<Filter, String> {
    parse_filter_on(s, &["userPrincipalName", "id"])
}

/// [`parse_filter`] on other properties (names compared case-insensitively, as Graph's are): `GET /groups`
/// filters on `displayName` or `id`.
pub(crate) fn parse_filter_on(s: &str, properties: &[&'static str]) -> Result<Filter, String> {
    let mut p = Parser {
        s: s.as_bytes(),
        i: 0,
    };
    let mut property: Option<&'static str> = None;
    let mut values = Vec::new();
    loop {
        p.ws();
        let name = p.ident();
        if name.is_empty() {
            return Err("expected a property name".into());
        }
        let Some(prop) = properties
            .iter()
            .copied()
            .find(|q| q.eq_ignore_ascii_case(&name))
        else {
            return Err(format!(
                "filtering on '{}' is not supported by the emulator",
                name.to_ascii_lowercase()
            ));
        };
        if property.is_some_and(|q| q != prop) {
            return Err("all clauses must filter the same property".into());
        }
        property = Some(prop);
        p.ws();
        match p.ident().to_ascii_lowercase().as_str() {
            "eq" => {
                p.ws();
                values.push(p.literal()?);
            }
            "in" => {
                p.ws();
                p.expect(b'(')?;
                loop {
                    p.ws();
                    values.push(p.literal()?);
                    p.ws();
                    if p.eat(b',') {
                        continue;
                    }
                    p.expect(b')')?;
                    break;
                }
            }
            other => return Err(format!("unsupported operator '{other}'")),
        }
        p.ws();
        if p.i >= p.s.len() {
            break;
        }
        if p.ident().eq_ignore_ascii_case("or") {
            continue;
        }
        return Err(format!("unexpected text at position {}", p.i));
    }
    Ok(Filter {
        property: property.unwrap_or("id"),
        values,
    })
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }
    fn ident(&mut self) -> String {
        let start = self.i;
        while self.i < self.s.len()
            && (self.s[self.i].is_ascii_alphanumeric() || self.s[self.i] == b'_')
        {
            self.i += 1;
        }
        String::from_utf8_lossy(&self.s[start..self.i]).into_owned()
    }
    fn eat(&mut self, b: u8) -> bool {
        if self.s.get(self.i) == Some(&b) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn expect(&mut self, b: u8) -> Result<(), String> {
        if self.eat(b) {
            Ok(())
        } else {
            Err(format!("expected '{}' at position {}", b as char, self.i))
        }
    }
    fn literal(&mut self) -> Result<String, String> {
        self.expect(b'\'')?;
        let mut out = Vec::new();
        loop {
            match self.s.get(self.i) {
                None => return Err("unterminated string literal".into()),
                Some(b'\'') if self.s.get(self.i + 1) == Some(&b'\'') => {
                    out.push(b'\'');
                    self.i += 2;
                }
                Some(b'\'') => {
                    self.i += 1;
                    break;
                }
                Some(c) => {
                    out.push(*c);
                    self.i += 1;
                }
            }
        }
        String::from_utf8(out).map_err(|_| "string literal is not UTF-8".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse_with_escaped_quotes() {
        let f = parse_filter("userPrincipalName in ('a@contoso.com','o''brien.pat@contoso.com', 'j_f.com#EXT#@c.onmicrosoft.com')").unwrap();
        assert_eq!(f.property, "userPrincipalName");
        assert_eq!(
            f.values,
            vec![
                "a@contoso.com",
                "o'brien.pat@contoso.com",
                "j_f.com#EXT#@c.onmicrosoft.com"
            ]
        );
        let f = parse_filter("id eq '4b1f' or id eq 'x'").unwrap();
        assert_eq!(f.values, vec!["4b1f", "x"]);
        assert!(parse_filter("userPrincipalName in ('a'").is_err());
        assert!(parse_filter("mail eq 'a'").is_err());
        assert!(parse_filter("userPrincipalName eq 'unterminated").is_err());
    }
}
