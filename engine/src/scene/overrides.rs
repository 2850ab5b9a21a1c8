//! Changes to a scene file's values before it is read: `KEY=VALUE` with a dotted key
//! (`materials.skin.youngs_modulus=6e4`, `mesh.generator.vein_radius=0.0025`,
//! `tool.0.static_friction=0.3`), as `vesalius run --set` takes them and as a trial sets a
//! virtual patient's parameters.
//!
//! A key names tables by name and arrays of tables by index (from 0). Every key but the last
//! must be there or be a table that can be made (`simulation.guards` where the scene has
//! none); the last one replaces a value or adds one. What the scene's schema does not know
//! is refused when the changed scene is read (the schema denies unknown keys), so a typo in a
//! key is an error that names it, never a value silently ignored.

use std::fmt;
use std::str::FromStr;

/// One `KEY=VALUE` change to a scene's values.
#[derive(Clone, Debug, PartialEq)]
pub struct Override {
    /// Dotted key: table names and array indices (`pin.1.offset`).
    pub key: String,
    /// The new value.
    pub value: toml::Value,
}

impl Override {
    /// A change of `key` to `value`.
    pub fn new(key: impl Into<String>, value: impl Into<toml::Value>) -> Self {
        Self {
            key: key.into(),
            value: value.into(),
        }
    }
}

impl fmt::Display for Override {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.key, self.value)
    }
}

impl FromStr for Override {
    type Err = String;

    /// `KEY=VALUE`: the value is read as a TOML value (`6e4`, `true`, `[0.0, 0.0, -9.81]`,
    /// `"cpu"`), and a bare word that is not one (`cpu`) as a string.
    fn from_str(s: &str) -> Result<Self, String> {
        let (key, value) = s
            .split_once('=')
            .ok_or_else(|| format!("`{s}`: expected KEY=VALUE"))?;
        let key = key.trim();
        if key.is_empty() || key.split('.').any(|p| p.trim().is_empty()) {
            return Err(format!("`{s}`: the key `{key}` has an empty part"));
        }
        let value = value.trim();
        if value.is_empty() {
            return Err(format!("`{s}`: no value for `{key}`"));
        }
        // A TOML value is what a one-key document reads it as.
        let parsed = toml::from_str::<toml::Table>(&format!("v = {value}"))
            .ok()
            .and_then(|mut t| t.remove("v"));
        let value = match parsed {
            Some(v) => v,
            None if value
                .chars()
                .all(|c| c.is_alphanumeric() || "_-./".contains(c)) =>
            {
                toml::Value::String(value.to_string())
            }
            None => return Err(format!("`{s}`: `{value}` is not a TOML value")),
        };
        Ok(Self {
            key: key.to_string(),
            value,
        })
    }
}

/// Applies `change` to the scene document `doc`; the error names the key and what is wrong.
pub fn apply(doc: &mut toml::Table, change: &Override) -> Result<(), String> {
    let parts: Vec<&str> = change.key.split('.').map(str::trim).collect();
    let (last, path) = parts.split_last().expect("a key has at least one part");
    let mut here = Slot::Table(doc);
    for (k, part) in path.iter().enumerate() {
        let at = parts[..=k].join(".");
        here = here.child(part, &at, &change.key)?;
    }
    here.set(last, change.value.clone(), &change.key)
}

/// Applies every change in order (a later one wins over an earlier one on the same key).
pub fn apply_all(doc: &mut toml::Table, changes: &[Override]) -> Result<(), String> {
    changes.iter().try_for_each(|c| apply(doc, c))
}

/// The changes as a user would type them, for messages (`a.b=1, c=\"x\"`).
pub fn describe(changes: &[Override]) -> String {
    changes
        .iter()
        .map(|c| c.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// `text` read as a TOML document, with `changes` made, then as a `T`. The error is the
/// TOML parser's for the text (with its line), or names the changed key, or is the
/// schema's (an unknown key, a wrong type) prefixed with the changes.
pub fn read_with<T: serde::de::DeserializeOwned>(
    text: &str,
    changes: &[Override],
) -> Result<T, String> {
    let mut doc: toml::Table = toml::from_str(text).map_err(|e| e.to_string())?;
    apply_all(&mut doc, changes)?;
    toml::Value::Table(doc)
        .try_into()
        .map_err(|e: toml::de::Error| format!("with {}: {}", describe(changes), e.message()))
}

/// Where a key's walk through the document is.
enum Slot<'a> {
    Table(&'a mut toml::Table),
    Array(&'a mut Vec<toml::Value>),
}

impl<'a> Slot<'a> {
    /// The table or array at `part` (`at`: the key so far), made as a table if absent.
    fn child(self, part: &str, at: &str, key: &str) -> Result<Slot<'a>, String> {
        let value = match self {
            Slot::Table(t) => t
                .entry(part.to_string())
                .or_insert_with(|| toml::Value::Table(toml::Table::new())),
            Slot::Array(a) => {
                let len = a.len();
                let i = index(part, len, at, key)?;
                &mut a[i]
            }
        };
        match value {
            toml::Value::Table(t) => Ok(Slot::Table(t)),
            toml::Value::Array(a) => Ok(Slot::Array(a)),
            other => Err(format!(
                "`{key}`: `{at}` is {}, not a table or an array",
                kind(other)
            )),
        }
    }

    /// Sets `part` to `value`.
    fn set(self, part: &str, value: toml::Value, key: &str) -> Result<(), String> {
        match self {
            Slot::Table(t) => {
                t.insert(part.to_string(), value);
            }
            Slot::Array(a) => {
                let len = a.len();
                let i = index(part, len, key, key)?;
                a[i] = value;
            }
        }
        Ok(())
    }
}

/// `part` as an index into an array of `len` (`at`: the key up to it).
fn index(part: &str, len: usize, at: &str, key: &str) -> Result<usize, String> {
    let i: usize = part.parse().map_err(|_| {
        format!("`{key}`: `{at}` is in an array of {len}; name its entry by an index from 0")
    })?;
    if i >= len {
        return Err(format!(
            "`{key}`: index {i} in `{at}` is past the end of its {len} entries"
        ));
    }
    Ok(i)
}

/// What kind of value `v` is, for messages.
fn kind(v: &toml::Value) -> &'static str {
    match v {
        toml::Value::String(_) => "a string",
        toml::Value::Integer(_) => "an integer",
        toml::Value::Float(_) => "a number",
        toml::Value::Boolean(_) => "a boolean",
        toml::Value::Datetime(_) => "a date",
        toml::Value::Array(_) => "an array",
        toml::Value::Table(_) => "a table",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> toml::Table {
        toml::from_str(
            r#"
[mesh]
generator = { kind = "vein_slab", fine_size = 0.001 }
[materials]
skin = { youngs_modulus = 5.0e4 }
[[pin]]
offset = 0.0
[[pin]]
offset = -0.04
"#,
        )
        .unwrap()
    }

    #[test]
    fn values_are_read_as_toml_and_bare_words_as_strings() {
        let o: Override = "materials.skin.youngs_modulus=6e4".parse().unwrap();
        assert_eq!(o.value, toml::Value::Float(6e4));
        let o: Override = "simulation.gravity = [0.0, 0.0, -9.81]".parse().unwrap();
        assert_eq!(o.key, "simulation.gravity");
        assert!(o.value.is_array());
        let o: Override = "simulation.backend=cpu".parse().unwrap();
        assert_eq!(o.value, toml::Value::String("cpu".into()));
        assert!("materials.skin".parse::<Override>().is_err());
        assert!("a..b=1"
            .parse::<Override>()
            .unwrap_err()
            .contains("empty part"));
        assert!("a=".parse::<Override>().unwrap_err().contains("no value"));
        assert!("a=[1,"
            .parse::<Override>()
            .unwrap_err()
            .contains("not a TOML value"));
    }

    #[test]
    fn changes_replace_add_and_index_arrays() {
        let mut d = doc();
        let changes: Vec<Override> = [
            "materials.skin.youngs_modulus=6e4",
            "mesh.generator.vein_radius=0.0025",
            "pin.1.offset=-0.05",
            "simulation.guards.enabled=false",
        ]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
        apply_all(&mut d, &changes).unwrap();
        assert_eq!(
            d["materials"]["skin"]["youngs_modulus"].as_float(),
            Some(6e4)
        );
        assert_eq!(
            d["mesh"]["generator"]["vein_radius"].as_float(),
            Some(0.0025)
        );
        assert_eq!(d["mesh"]["generator"]["fine_size"].as_float(), Some(0.001));
        assert_eq!(d["pin"][1]["offset"].as_float(), Some(-0.05));
        assert_eq!(d["pin"][0]["offset"].as_float(), Some(0.0));
        assert_eq!(d["simulation"]["guards"]["enabled"].as_bool(), Some(false));
    }

    #[test]
    fn bad_keys_are_errors_that_name_them() {
        let mut d = doc();
        let err = |s: &str, d: &mut toml::Table| apply(d, &s.parse().unwrap()).unwrap_err();
        let e = err("pin.2.offset=1.0", &mut d);
        assert!(
            e.contains("`pin.2.offset`") && e.contains("past the end of its 2"),
            "{e}"
        );
        let e = err("pin.first.offset=1.0", &mut d);
        assert!(e.contains("index from 0"), "{e}");
        let e = err("materials.skin.youngs_modulus.x=1.0", &mut d);
        assert!(e.contains("is a number, not a table"), "{e}");
        assert_eq!(d, doc(), "a refused change leaves the document as it was");
    }
}
