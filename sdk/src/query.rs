//! Percent-decoding, for query strings and CloudEvent header values.

/// How a `+` is read: as a space in `application/x-www-form-urlencoded`
/// query strings, as itself everywhere else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Plus {
    Space,
    Literal,
}

/// Decodes `%XX` escapes. A `%` not followed by two hex digits is kept as
/// it is rather than rejected: a handler would rather see a slightly odd
/// value than nothing. Bytes that do not form UTF-8 become U+FFFD.
pub(crate) fn percent_decode(input: &str, plus: Plus) -> String {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => match (bytes.get(i + 1).and_then(hex), bytes.get(i + 2).and_then(hex)) {
                (Some(high), Some(low)) => {
                    out.push((high << 4) | low);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' if plus == Plus::Space => out.push(b' '),
            byte => out.push(byte),
        }
        i += 1;
    }
    match String::from_utf8(out) {
        Ok(text) => text,
        Err(error) => String::from_utf8_lossy(error.as_bytes()).into_owned(),
    }
}

fn hex(digit: &u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

/// The decoded `name=value` pairs of a query string, in order. A pair
/// without `=` has an empty value; empty pairs (`a=1&&b=2`) are skipped.
pub(crate) fn pairs(query: &str) -> impl Iterator<Item = (String, String)> + '_ {
    query.split('&').filter(|pair| !pair.is_empty()).map(|pair| {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        (percent_decode(name, Plus::Space), percent_decode(value, Plus::Space))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_escapes_and_plus() {
        assert_eq!(percent_decode("J%C3%BCrgen+M%2b%2F", Plus::Space), "Jürgen M+/");
        assert_eq!(percent_decode("a+b", Plus::Literal), "a+b");
    }

    #[test]
    fn keeps_malformed_escapes() {
        assert_eq!(percent_decode("100%", Plus::Space), "100%");
        assert_eq!(percent_decode("%zz%4", Plus::Space), "%zz%4");
        assert_eq!(percent_decode("%ff", Plus::Space), "\u{fffd}");
    }

    #[test]
    fn splits_pairs() {
        let got: Vec<_> = pairs("a=1&&flag&b=x%3Dy&a=2").collect();
        let want = [("a", "1"), ("flag", ""), ("b", "x=y"), ("a", "2")];
        assert_eq!(got, want.map(|(n, v)| (n.to_owned(), v.to_owned())));
    }
}
