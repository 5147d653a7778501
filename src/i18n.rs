//! User-facing strings in Italian and English, from `locales/*.toml` (compiled in).
//! Internal errors' `Display` never reaches a user: every reply text comes from here.

use crate::domain::Lang;
use std::collections::HashMap;
use std::sync::OnceLock;

const EN: &str = include_str!("../locales/en.toml");
const IT: &str = include_str!("../locales/it.toml");

struct Catalog {
    en: HashMap<String, String>,
    it: HashMap<String, String>,
}

fn load(text: &str) -> HashMap<String, String> {
    // The files are compiled in and checked by a test, so a parse failure cannot reach a
    // release; an empty table (falling back to the key) is still better than a panic.
    toml::from_str::<HashMap<String, String>>(text).unwrap_or_default()
}

fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(|| Catalog {
        en: load(EN),
        it: load(IT),
    })
}

/// The text for `key` in `lang`, falling back to English, then to the key itself.
pub fn text(lang: Lang, key: &str) -> String {
    let catalog = catalog();
    let table = match lang {
        Lang::It => &catalog.it,
        Lang::En => &catalog.en,
    };
    table
        .get(key)
        .or_else(|| catalog.en.get(key))
        .cloned()
        .unwrap_or_else(|| key.to_string())
}

/// The text for `key` with each `{name}` replaced by its value.
pub fn format(lang: Lang, key: &str, values: &[(&str, &str)]) -> String {
    let mut out = text(lang, key);
    for (name, value) in values {
        out = out.replace(&format!("{{{name}}}"), value);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_locales_parse_and_have_the_same_keys() {
        let en: HashMap<String, String> = toml::from_str(EN).expect("en.toml parses");
        let it: HashMap<String, String> = toml::from_str(IT).expect("it.toml parses");
        let mut en_keys: Vec<&String> = en.keys().collect();
        let mut it_keys: Vec<&String> = it.keys().collect();
        en_keys.sort();
        it_keys.sort();
        assert_eq!(en_keys, it_keys);
        assert!(en.len() > 40);
    }

    #[test]
    fn placeholders_are_filled_and_missing_keys_fall_back() {
        assert_eq!(
            format(Lang::It, "subscribed", &[("topics", "export_ban")]),
            "Iscrizione attiva per: export_ban."
        );
        assert_eq!(
            format(Lang::En, "subscribed", &[("topics", "approval")]),
            "Subscribed to: approval."
        );
        assert_eq!(text(Lang::It, "no_such_key"), "no_such_key");
    }
}
