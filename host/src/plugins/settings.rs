//! A format's settings: what the operator wrote under `[formats.NAME.settings]`,
//! checked against what the plugin declares (`descriptor.settings`), with the declared
//! defaults filled in. A plugin reads them through the `setting` import.

use std::collections::BTreeMap;

use anyhow::{anyhow, bail};

use super::api::{SettingDecl, SettingKind, SettingValue};

/// Every declared setting's value, by name.
pub type Settings = BTreeMap<String, SettingValue>;

/// The values for `decls` from `table`; an unknown key, a value of another kind or one
/// out of range fails naming the key, and a declaration whose own default breaks its
/// kind fails too (a plugin bug, better found at startup than on a request).
pub fn resolve(decls: &[SettingDecl], table: &toml::Table) -> anyhow::Result<Settings> {
    if let Some(unknown) = table
        .keys()
        .find(|key| !decls.iter().any(|d| &d.name == *key))
    {
        let known: Vec<&str> = decls.iter().map(|d| d.name.as_str()).collect();
        bail!(
            "settings.{unknown}: the plugin declares no such setting (it declares: {})",
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        );
    }
    let mut settings = Settings::new();
    for decl in decls {
        check(decl, &decl.default)
            .map_err(|e| anyhow!("the plugin's default for setting {}: {e}", decl.name))?;
        let value = match table.get(&decl.name) {
            None => decl.default.clone(),
            Some(value) => convert(value, &decl.kind)
                .and_then(|v| check(decl, &v).map(|()| v))
                .map_err(|e| anyhow!("settings.{}: {e} ({})", decl.name, decl.description))?,
        };
        settings.insert(decl.name.clone(), value);
    }
    Ok(settings)
}

/// One line on a declared setting, for `wharf plugin check`:
/// `max-references: integer 1..=50000, default 10000 (most descriptors …)`.
pub fn describe(decl: &SettingDecl) -> String {
    let kind = match &decl.kind {
        SettingKind::Text => "text".to_string(),
        SettingKind::Choice(choices) => format!("one of {}", choices.join(", ")),
        SettingKind::Integer(range) => format!("integer {}..={}", range.min, range.max),
        SettingKind::Boolean => "boolean".to_string(),
    };
    let default = match &decl.default {
        SettingValue::Text(t) => format!("{t:?}"),
        SettingValue::Integer(i) => i.to_string(),
        SettingValue::Boolean(b) => b.to_string(),
    };
    format!(
        "{}: {kind}, default {default} ({})",
        decl.name, decl.description
    )
}

fn convert(value: &toml::Value, kind: &SettingKind) -> Result<SettingValue, String> {
    match (kind, value) {
        (SettingKind::Text | SettingKind::Choice(_), toml::Value::String(s)) => {
            Ok(SettingValue::Text(s.clone()))
        }
        (SettingKind::Integer(_), toml::Value::Integer(i)) => Ok(SettingValue::Integer(*i)),
        (SettingKind::Boolean, toml::Value::Boolean(b)) => Ok(SettingValue::Boolean(*b)),
        (kind, value) => Err(format!(
            "expected {}, found {}",
            kind_name(kind),
            value.type_str()
        )),
    }
}

fn check(decl: &SettingDecl, value: &SettingValue) -> Result<(), String> {
    match (&decl.kind, value) {
        (SettingKind::Text, SettingValue::Text(_))
        | (SettingKind::Boolean, SettingValue::Boolean(_)) => Ok(()),
        (SettingKind::Choice(choices), SettingValue::Text(s)) => {
            if choices.contains(s) {
                Ok(())
            } else {
                Err(format!("{s:?} is not one of {}", choices.join(", ")))
            }
        }
        (SettingKind::Integer(range), SettingValue::Integer(i)) => {
            if (range.min..=range.max).contains(i) {
                Ok(())
            } else {
                Err(format!("{i} is outside {}..={}", range.min, range.max))
            }
        }
        (kind, _) => Err(format!("expected {}", kind_name(kind))),
    }
}

fn kind_name(kind: &SettingKind) -> &'static str {
    match kind {
        SettingKind::Text => "a string",
        SettingKind::Choice(_) => "one of the listed strings",
        SettingKind::Integer(_) => "an integer",
        SettingKind::Boolean => "a boolean",
    }
}

#[cfg(test)]
mod tests {
    use super::super::api::IntegerRange;
    use super::*;

    fn decls() -> Vec<SettingDecl> {
        vec![
            SettingDecl {
                name: "max-references".into(),
                description: "most references a manifest may hold".into(),
                kind: SettingKind::Integer(IntegerRange { min: 1, max: 100 }),
                default: SettingValue::Integer(10),
            },
            SettingDecl {
                name: "flavour".into(),
                description: "which flavour".into(),
                kind: SettingKind::Choice(vec!["a".into(), "b".into()]),
                default: SettingValue::Text("a".into()),
            },
        ]
    }

    fn table(text: &str) -> toml::Table {
        text.parse().unwrap()
    }

    #[test]
    fn defaults_fill_in_and_given_values_win() {
        let s = resolve(&decls(), &table("max-references = 5")).unwrap();
        assert!(matches!(s["max-references"], SettingValue::Integer(5)));
        assert!(matches!(&s["flavour"], SettingValue::Text(t) if t == "a"));
    }

    #[test]
    fn bad_settings_stop_startup_naming_the_key() {
        let err = |t: &str| resolve(&decls(), &table(t)).unwrap_err().to_string();
        let e = err("max-refs = 5");
        assert!(
            e.contains("settings.max-refs") && e.contains("max-references, flavour"),
            "{e}"
        );
        let e = err("max-references = \"5\"");
        assert!(
            e.contains("settings.max-references: expected an integer, found string"),
            "{e}"
        );
        let e = err("max-references = 500");
        assert!(e.contains("500 is outside 1..=100"), "{e}");
        let e = err("flavour = \"c\"");
        assert!(
            e.contains("settings.flavour") && e.contains("not one of a, b"),
            "{e}"
        );
    }

    #[test]
    fn declarations_are_described_in_one_line() {
        let d = decls();
        assert_eq!(
            describe(&d[0]),
            "max-references: integer 1..=100, default 10 (most references a manifest may hold)"
        );
        assert_eq!(
            describe(&d[1]),
            "flavour: one of a, b, default \"a\" (which flavour)"
        );
    }

    #[test]
    fn a_default_outside_its_own_kind_is_the_plugins_bug() {
        let mut d = decls();
        d[0].default = SettingValue::Integer(0);
        let e = resolve(&d, &toml::Table::new()).unwrap_err().to_string();
        assert!(
            e.contains("the plugin's default for setting max-references"),
            "{e}"
        );
    }
}
