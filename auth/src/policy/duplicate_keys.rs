//! Refusing JSON objects that repeat a key.
//!
//! `serde_json::Value` keeps the last of two equal keys, so `{"Effect": "Deny", "Effect":
//! "Allow"}` would read as Deny to the owner reviewing it and act as Allow. A policy must
//! mean what it visibly says, so such documents are refused before they are read.

use std::collections::HashSet;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// Whether some object anywhere in `text` repeats a key. `text` must be valid JSON for the
/// answer to mean anything; a syntax error also answers `true`, and is reported as such by
/// the real parse that follows.
pub(super) fn has_duplicate_keys(text: &str) -> bool {
    serde_json::from_str::<Checked>(text).is_err()
}

/// A JSON value that was walked and found free of repeated keys.
struct Checked;

impl<'de> Deserialize<'de> for Checked {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(Walker)
    }
}

struct Walker;

impl<'de> Visitor<'de> for Walker {
    type Value = Checked;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_str<E>(self, _: &str) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_unit<E>(self) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Checked, A::Error> {
        while seq.next_element::<Checked>()?.is_some() {}
        Ok(Checked)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Checked, A::Error> {
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key) {
                return Err(de::Error::custom("duplicate key"));
            }
            map.next_value::<Checked>()?;
        }
        Ok(Checked)
    }
}
