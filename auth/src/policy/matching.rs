//! Wildcard patterns (`*`, `?`) and templates holding policy variables (`${aws:username}`).
//!
//! Policies are written by bucket owners but evaluated on every request, so matching must stay
//! cheap whatever the pattern: the matcher below is iterative and remembers only the last `*`,
//! which bounds it by `pattern × text` steps (a backtracking or regex matcher can go exponential
//! on `a*a*a*a*b`).

use std::borrow::Cow;

/// One element of a compiled pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Unit {
    /// Exactly this character.
    Char(char),
    /// `?`: any one character.
    One,
    /// `*`: any run of characters, including none.
    Many,
}

/// Compiles `text` into units; with `wildcards` false every character is literal.
pub(super) fn compile(text: &str, wildcards: bool) -> Vec<Unit> {
    let mut units = Vec::with_capacity(text.len());
    push_units(&mut units, text, wildcards);
    units
}

fn push_units(units: &mut Vec<Unit>, text: &str, wildcards: bool) {
    for c in text.chars() {
        units.push(match c {
            '*' if wildcards => {
                // `**` means the same as `*`; collapsing keeps the matcher's work minimal.
                if units.last() == Some(&Unit::Many) {
                    continue;
                }
                Unit::Many
            }
            '?' if wildcards => Unit::One,
            c => Unit::Char(c),
        });
    }
}

/// Whether `text` matches `pattern` as a whole.
///
/// `fold_case` compares characters case-insensitively (actions, `...IgnoreCase` operators).
pub(super) fn matches(pattern: &[Unit], text: &str, fold_case: bool) -> bool {
    let mut p = 0;
    let mut t = 0;
    // Where to resume after a mismatch: the unit after the last `*`, and the text position
    // that `*` currently stops at. Only the last `*` matters: any earlier one could only
    // absorb text the last one can absorb too.
    let mut resume: Option<(usize, usize)> = None;
    loop {
        if let Some(c) = text[t..].chars().next() {
            match pattern.get(p) {
                Some(Unit::Many) => {
                    p += 1;
                    resume = Some((p, t));
                    continue;
                }
                Some(Unit::One) => {
                    p += 1;
                    t += c.len_utf8();
                    continue;
                }
                Some(Unit::Char(pc)) if same_char(*pc, c, fold_case) => {
                    p += 1;
                    t += c.len_utf8();
                    continue;
                }
                _ => {}
            }
            // Mismatch: let the last `*` swallow one more character and retry after it.
            let Some((after_star, star_end)) = resume else {
                return false;
            };
            let Some(swallowed) = text[star_end..].chars().next() else {
                return false;
            };
            let star_end = star_end + swallowed.len_utf8();
            resume = Some((after_star, star_end));
            p = after_star;
            t = star_end;
        } else {
            return pattern[p..].iter().all(|unit| *unit == Unit::Many);
        }
    }
}

fn same_char(a: char, b: char, fold_case: bool) -> bool {
    if a == b {
        return true;
    }
    if !fold_case {
        return false;
    }
    if a.is_ascii() && b.is_ascii() {
        return a.eq_ignore_ascii_case(&b);
    }
    a.to_lowercase().eq(b.to_lowercase())
}

/// A pattern that may hold policy variables, resolved per request.
#[derive(Clone, Debug)]
pub(super) struct Template {
    pieces: Vec<Piece>,
}

#[derive(Clone, Debug)]
enum Piece {
    Units(Vec<Unit>),
    Variable {
        /// Lower-cased: variable names are case-insensitive, like condition keys.
        key: String,
        /// `${key, 'default'}`: used when the request has no value for `key`.
        default: Option<String>,
    },
}

/// A `${` without its `}`, or a variable name we cannot read.
#[derive(Debug)]
pub(super) struct BadVariable;

impl Template {
    /// Compiles `text`. With `variables` false (policy Version 2008-10-17) `${...}` is literal,
    /// as AWS reads it.
    pub(super) fn parse(text: &str, wildcards: bool, variables: bool) -> Result<Self, BadVariable> {
        if !variables {
            return Ok(Self {
                pieces: vec![Piece::Units(compile(text, wildcards))],
            });
        }
        let mut pieces = Vec::new();
        let mut units = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            push_units(&mut units, &rest[..start], wildcards);
            let after = &rest[start + 2..];
            let end = after.find('}').ok_or(BadVariable)?;
            let inner = &after[..end];
            match inner {
                // The escapes let a policy say a literal `*`, `?` or `$` where it would
                // otherwise be a wildcard or start a variable.
                "*" => units.push(Unit::Char('*')),
                "?" => units.push(Unit::Char('?')),
                "$" => units.push(Unit::Char('$')),
                _ => {
                    if !units.is_empty() {
                        pieces.push(Piece::Units(std::mem::take(&mut units)));
                    }
                    pieces.push(parse_variable(inner)?);
                }
            }
            rest = &after[end + 1..];
        }
        push_units(&mut units, rest, wildcards);
        if !units.is_empty() || pieces.is_empty() {
            pieces.push(Piece::Units(units));
        }
        Ok(Self { pieces })
    }

    /// The units to match with, variables replaced by the request's values (as literal
    /// characters: a `*` in a user name is not a wildcard). `None` when a variable has no
    /// value, in which case the caller must not let the pattern match.
    pub(super) fn resolve<'a>(
        &'a self,
        lookup: &dyn Fn(&str) -> Option<&'a str>,
    ) -> Option<Cow<'a, [Unit]>> {
        if let [Piece::Units(units)] = self.pieces.as_slice() {
            return Some(Cow::Borrowed(units));
        }
        let mut out = Vec::new();
        for piece in &self.pieces {
            match piece {
                Piece::Units(units) => out.extend_from_slice(units),
                Piece::Variable { key, default } => {
                    let value = lookup(key).or(default.as_deref())?;
                    out.extend(value.chars().map(Unit::Char));
                }
            }
        }
        Some(Cow::Owned(out))
    }
}

fn parse_variable(inner: &str) -> Result<Piece, BadVariable> {
    let (name, default) = match inner.split_once(',') {
        None => (inner.trim(), None),
        Some((name, default)) => {
            let default = default
                .trim()
                .strip_prefix('\'')
                .and_then(|d| d.strip_suffix('\''))
                .ok_or(BadVariable)?;
            (name.trim(), Some(default.to_owned()))
        }
    };
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '_' | '-' | '.' | '/'));
    if !valid {
        return Err(BadVariable);
    }
    Ok(Piece::Variable {
        key: name.to_ascii_lowercase(),
        default,
    })
}
