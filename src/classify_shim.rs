//! TEMPORARY stand-in for the helper's classifier (never committed).
pub use crate::domain::{Classification, Entity, EntityKind, Lang, TopicId, TopicScore};
pub struct Rules {
    topics: Vec<TopicInfo>,
}
#[derive(Debug, Clone)]
pub struct TopicInfo {
    pub id: TopicId,
    pub name_it: String,
    pub name_en: String,
    pub description_it: String,
    pub description_en: String,
}
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    #[error("bad rules: {0}")]
    Bad(String),
}
impl Rules {
    pub fn from_toml(_text: &str) -> Result<Rules, RulesError> {
        let ids = ["export_ban", "approval", "open_source_ai"];
        Ok(Rules {
            topics: ids
                .iter()
                .map(|i| TopicInfo {
                    id: TopicId::parse(i).unwrap(),
                    name_it: i.to_string(),
                    name_en: i.to_string(),
                    description_it: String::new(),
                    description_en: String::new(),
                })
                .collect(),
        })
    }
    pub fn topics(&self) -> &[TopicInfo] {
        &self.topics
    }
    pub fn topic(&self, id: &str) -> Option<&TopicInfo> {
        self.topics.iter().find(|t| t.id.as_str() == id)
    }
}
pub struct ItemText<'a> {
    pub title: &'a str,
    pub text: &'a str,
    pub lang: Option<Lang>,
}
pub fn classify(_rules: &Rules, item: &ItemText<'_>) -> Classification {
    let t = format!("{} {}", item.title, item.text).to_lowercase();
    let mut c = Classification::default();
    if t.contains("h20") || t.contains("h200") {
        c.topics.push(TopicScore {
            topic: TopicId::parse("approval").unwrap(),
            score: 1.0,
        });
        c.why.push("approval: h20".into());
    }
    if t.contains("open source") || t.contains("open-source") {
        c.topics.push(TopicScore {
            topic: TopicId::parse("open_source_ai").unwrap(),
            score: 1.0,
        });
        c.why.push("open_source_ai: open source".into());
    }
    c
}
pub fn detect_lang(_text: &str) -> Lang {
    Lang::It
}
pub fn stems(text: &str, _lang: Lang) -> Vec<String> {
    text.to_lowercase()
        .split_whitespace()
        .map(str::to_string)
        .collect()
}
pub fn fold(text: &str) -> String {
    text.to_lowercase()
}
