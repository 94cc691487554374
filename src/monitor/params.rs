//! Query parameters as the reference's handlers read them: Go's `url.Query().Get` (first
//! value wins, `+` is a space, a pair with a bad escape is dropped) and its `strconv`
//! decoders, with the exact 400 texts.

use crate::gofmt::quote_str;

/// The parameters of one request.
pub struct Query(Vec<(String, String)>);

/// A parameter that did not decode: the plain-text body of the 400 answer.
#[derive(Debug, PartialEq, Eq)]
pub struct BadParam(pub String);

/// Which connections `/connz` lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnState {
    Open,
    Closed,
    Any,
}

/// Which subscription lists `/connz` and `/routez` include.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubsOption {
    None,
    Subjects,
    Detail,
}

impl Query {
    /// Parses the part of a URL after `?`.
    pub fn parse(query: &str) -> Query {
        let pairs = query
            .split('&')
            .filter(|pair| !pair.is_empty() && !pair.contains(';'))
            .filter_map(|pair| {
                let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                Some((unescape(key)?, unescape(value)?))
            })
            .collect();
        Query(pairs)
    }

    /// The first value of `key`, or `""`.
    pub fn get(&self, key: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map_or("", |(_, v)| v.as_str())
    }

    /// Go's `strconv.ParseBool`; absent or empty is false.
    pub fn bool(&self, key: &str) -> Result<bool, BadParam> {
        match self.get(key) {
            "" | "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
            "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
            other => Err(BadParam(format!(
                "Error decoding boolean for '{key}': strconv.ParseBool: parsing {}: invalid syntax",
                quote_str(other)
            ))),
        }
    }

    /// Go's `strconv.Atoi` (64-bit); absent or empty is 0.
    pub fn int(&self, key: &str) -> Result<i64, BadParam> {
        let text = self.get(key);
        if text.is_empty() {
            return Ok(0);
        }
        let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
        let failure = if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            "invalid syntax"
        } else {
            match text.parse::<i64>() {
                Ok(n) => return Ok(n),
                Err(_) => "value out of range",
            }
        };
        Err(BadParam(format!(
            "Error decoding int for '{key}': strconv.Atoi: parsing {}: {failure}",
            quote_str(text)
        )))
    }

    /// Go's `strconv.ParseUint(s, 10, 64)`; absent or empty is 0.
    pub fn uint64(&self, key: &str) -> Result<u64, BadParam> {
        let text = self.get(key);
        if text.is_empty() {
            return Ok(0);
        }
        let failure = if !text.bytes().all(|b| b.is_ascii_digit()) {
            "invalid syntax"
        } else {
            match text.parse::<u64>() {
                Ok(n) => return Ok(n),
                Err(_) => "value out of range",
            }
        };
        Err(BadParam(format!(
            "Error decoding uint64 for '{key}': strconv.ParseUint: parsing {}: {failure}",
            quote_str(text)
        )))
    }

    /// `state`: open (the default), closed, any or all.
    pub fn state(&self) -> Result<ConnState, BadParam> {
        let text = self.get("state");
        match text.to_ascii_lowercase().as_str() {
            "" | "open" => Ok(ConnState::Open),
            "closed" => Ok(ConnState::Closed),
            "any" | "all" => Ok(ConnState::Any),
            _ => Err(BadParam(format!("Error decoding state for {text}"))),
        }
    }

    /// `subs`: `detail` (any case), else a boolean.
    pub fn subs(&self) -> Result<SubsOption, BadParam> {
        if self.get("subs").eq_ignore_ascii_case("detail") {
            return Ok(SubsOption::Detail);
        }
        Ok(match self.bool("subs")? {
            true => SubsOption::Subjects,
            false => SubsOption::None,
        })
    }
}

/// Go's `url.QueryUnescape`: `+` is a space, `%XX` a byte; `None` on a bad escape or bytes
/// that are not UTF-8 (which Go would keep, and natsd never needs).
fn unescape(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                // Two hex digits exactly, as Go's `unhex` (from_str_radix would take `+f`).
                let hex = |at: usize| char::from(*bytes.get(at)?).to_digit(16);
                out.push((hex(i + 1)? * 16 + hex(i + 2)?) as u8);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_value_wins_and_escapes_decode() {
        let q = Query::parse("a=1&a=2&cb=x+y%21&bad=%zz&semi=1;2&empty&=v");
        assert_eq!(q.get("a"), "1");
        assert_eq!(q.get("cb"), "x y!");
        assert_eq!(q.get("bad"), "");
        assert_eq!(q.get("semi"), "");
        assert_eq!(q.get("empty"), "");
        assert_eq!(q.get("missing"), "");
    }

    #[test]
    fn an_escape_is_two_hex_digits() {
        // Go drops these pairs (`url.QueryUnescape` fails): the parameter is absent.
        let q = Query::parse("limit=%+5&subs=%+1&sort=%-1&cb=%2&ok=%4a%4B");
        assert_eq!(q.get("limit"), "");
        assert_eq!(q.get("subs"), "");
        assert_eq!(q.get("sort"), "");
        assert_eq!(q.get("cb"), "");
        assert_eq!(q.get("ok"), "JK");
    }

    #[test]
    fn booleans_as_go_parses_them() {
        let q = Query::parse("a=T&b=False&c=maybe&d=");
        assert_eq!(q.bool("a"), Ok(true));
        assert_eq!(q.bool("b"), Ok(false));
        assert_eq!(q.bool("d"), Ok(false));
        assert_eq!(
            q.bool("c"),
            Err(BadParam(
                "Error decoding boolean for 'c': strconv.ParseBool: parsing \"maybe\": invalid syntax"
                    .into()
            ))
        );
    }

    #[test]
    fn integers_with_go_errors() {
        let q = Query::parse("a=-5&b=%2B7&c=abc&d=99999999999999999999&e=-&f=1_0");
        assert_eq!(q.int("a"), Ok(-5));
        assert_eq!(q.int("b"), Ok(7));
        assert_eq!(
            q.int("c").unwrap_err().0,
            "Error decoding int for 'c': strconv.Atoi: parsing \"abc\": invalid syntax"
        );
        assert_eq!(
            q.int("d").unwrap_err().0,
            "Error decoding int for 'd': strconv.Atoi: parsing \"99999999999999999999\": value out of range"
        );
        assert!(q.int("e").unwrap_err().0.ends_with("invalid syntax"));
        assert!(q.int("f").unwrap_err().0.ends_with("invalid syntax"));
        assert_eq!(
            Query::parse("cid=%2B1").uint64("cid").unwrap_err().0,
            "Error decoding uint64 for 'cid': strconv.ParseUint: parsing \"+1\": invalid syntax"
        );
        assert_eq!(
            Query::parse("cid=18446744073709551615").uint64("cid"),
            Ok(u64::MAX)
        );
    }

    #[test]
    fn state_and_subs() {
        assert_eq!(Query::parse("").state(), Ok(ConnState::Open));
        assert_eq!(Query::parse("state=CLOSED").state(), Ok(ConnState::Closed));
        assert_eq!(Query::parse("state=all").state(), Ok(ConnState::Any));
        assert_eq!(
            Query::parse("state=foo").state(),
            Err(BadParam("Error decoding state for foo".into()))
        );
        assert_eq!(Query::parse("subs=Detail").subs(), Ok(SubsOption::Detail));
        assert_eq!(Query::parse("subs=1").subs(), Ok(SubsOption::Subjects));
        assert_eq!(Query::parse("subs=0").subs(), Ok(SubsOption::None));
        assert!(Query::parse("subs=x").subs().is_err());
    }
}
