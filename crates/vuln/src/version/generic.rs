//! The generic version ordering, for firmware and other components that
//! only carry a name and a version (and for ecosystems without a scheme of
//! their own here).
//!
//! A version is split into tokens: runs of digits (compared numerically, of
//! any length), runs of letters (compared case-insensitively), with `.`,
//! `-`, `_`, `+`, `~`, spaces and parentheses as separators (Cisco's
//! `15.2(4)M3` is 15, 2, 4, M, 3; `2.6.0 p1` is 2.6.0, p, 1). A leading `v`/`V` before a digit is
//! dropped (`v2.0.1` = `2.0.1`). At each position the order is
//! pre-release word < end of version < other word < number, so:
//! - `1.2.10` > `1.2.9`, `2024.05.01` < `2024.5.2` (dates compare as numbers);
//! - `v2.0.1-rc1` < `v2.0.1` (pre-release words: `dev`, `snapshot`, `alpha`,
//!   `beta`, `milestone`, `pre`, `preview`, `rc`, and `a`/`b`/`m` when a
//!   number follows directly, ranked in that order);
//! - `1.1.1a` > `1.1.1` (a word that is not a pre-release is a later
//!   revision, as OpenSSL and many vendors use it);
//! - trailing zero numbers are insignificant: `1.0` = `1.0.0`.
//!
//! Deliberately absent: any character outside ASCII letters, digits and
//! those separators (an error, not a guess), and vendor-specific rules.

use std::cmp::Ordering;

use super::{VersionError, VersionScheme};

/// Orders two generic versions.
pub fn compare(a: &str, b: &str) -> Result<Ordering, VersionError> {
    let ta = tokens(a)?;
    let tb = tokens(b)?;
    let len = ta.len().max(tb.len());
    for k in 0..len {
        let x = ta.get(k).unwrap_or(&Token::End);
        let y = tb.get(k).unwrap_or(&Token::End);
        let ord = x.cmp_to(y);
        if ord != Ordering::Equal {
            return Ok(ord);
        }
    }
    Ok(Ordering::Equal)
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token<'a> {
    /// A pre-release word, by rank.
    Pre(u8),
    End,
    /// Any other word, lower-cased.
    Word(String),
    /// Digits without leading zeros (empty for zero).
    Num(&'a str),
}

impl Token<'_> {
    fn class(&self) -> u8 {
        match self {
            Token::Pre(_) => 0,
            Token::End => 1,
            Token::Word(_) => 2,
            Token::Num(_) => 3,
        }
    }

    fn cmp_to(&self, other: &Token<'_>) -> Ordering {
        match (self, other) {
            (Token::Pre(a), Token::Pre(b)) => a.cmp(b),
            (Token::Word(a), Token::Word(b)) => a.cmp(b),
            (Token::Num(a), Token::Num(b)) => a.len().cmp(&b.len()).then_with(|| a.cmp(b)),
            // A missing number is zero: 1.0 = 1.0.0.
            (Token::End, Token::Num("")) | (Token::Num(""), Token::End) => Ordering::Equal,
            _ => self.class().cmp(&other.class()),
        }
    }
}

fn pre_rank(word: &str, number_follows: bool) -> Option<u8> {
    Some(match word {
        "dev" | "snapshot" => 0,
        "alpha" => 1,
        "a" if number_follows => 1,
        "beta" => 2,
        "b" if number_follows => 2,
        "milestone" => 3,
        "m" if number_follows => 3,
        "pre" | "preview" => 4,
        "rc" | "cr" => 5,
        _ => return None,
    })
}

fn tokens(v: &str) -> Result<Vec<Token<'_>>, VersionError> {
    let err = |reason: &str| VersionError::new(VersionScheme::Generic, v, reason);
    let s = v.trim();
    let s = match s.strip_prefix(['v', 'V']) {
        Some(rest) if rest.starts_with(|c: char| c.is_ascii_digit()) => rest,
        _ => s,
    };
    if s.is_empty() {
        return Err(err("empty"));
    }
    if let Some(c) = s.chars().find(|c| {
        !c.is_ascii_alphanumeric() && !matches!(c, '.' | '-' | '_' | '+' | '~' | '(' | ')' | ' ')
    }) {
        return Err(err(&format!(
            "character {c:?} is not a letter, digit, space or one of . - _ + ~ ( )"
        )));
    }
    if !s.chars().any(|c| c.is_ascii_alphanumeric()) {
        return Err(err("no letter or digit"));
    }
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut k = 0;
    while k < bytes.len() {
        let c = bytes.get(k).copied().unwrap_or(b'.');
        if c.is_ascii_digit() {
            let start = k;
            while bytes.get(k).is_some_and(u8::is_ascii_digit) {
                k += 1;
            }
            let digits = s.get(start..k).unwrap_or_default();
            out.push(Token::Num(digits.trim_start_matches('0')));
        } else if c.is_ascii_alphabetic() {
            let start = k;
            while bytes.get(k).is_some_and(u8::is_ascii_alphabetic) {
                k += 1;
            }
            let word = s.get(start..k).unwrap_or_default().to_ascii_lowercase();
            let number_follows = bytes.get(k).is_some_and(u8::is_ascii_digit);
            out.push(match pre_rank(&word, number_follows) {
                Some(rank) => Token::Pre(rank),
                None => Token::Word(word),
            });
        } else {
            k += 1;
        }
    }
    Ok(out)
}
