//! Italian-aware text normalisation: lowercase, accent folding, elision split, word
//! boundaries, language detection and Snowball stems. Pure functions over `&str`; never
//! allocates more than the output it returns or the buffer it is given.

use crate::domain::Lang;
use rust_stemmers::{Algorithm, Stemmer};
use unicode_normalization::char::{decompose_canonical, is_combining_mark};

/// Folded text laid out for matching: `" w1 w2 … wn "`, one space before and after every
/// word, so that `" stem"` matches a word start and `" word "` a whole word. The buffers are
/// reused across items (see `Folded::clear`) so the hot path allocates nothing once warm.
#[derive(Debug, Default)]
pub(crate) struct Folded {
    pub text: String,
    /// Byte offset of each word's first byte in `text`.
    pub word_starts: Vec<u32>,
    /// Byte offset just past each word's last byte.
    pub word_ends: Vec<u32>,
    /// Indexes of words shaped like an ECCN (`3a090`): digit, category letter, three digits.
    pub eccn_words: Vec<u32>,
    /// Clause breaks, as the index of the first word after each: a comma, semicolon, dash,
    /// parenthesis, guillemet or sentence end stood before that word. Ascending. The title's end
    /// is one too.
    pub clause_breaks: Vec<u32>,
}

impl Folded {
    pub fn clear(&mut self) {
        self.text.clear();
        self.word_starts.clear();
        self.word_ends.clear();
        self.eccn_words.clear();
        self.clause_breaks.clear();
    }

    /// Whether a clause break lies between word `end` (exclusive end of the earlier span)
    /// and word `start` (first word of the later span).
    pub fn breaks_between(&self, end: u32, start: u32) -> bool {
        let first = self.clause_breaks.partition_point(|&k| k < end);
        self.clause_breaks.get(first).is_some_and(|&k| k <= start)
    }

    pub fn word_count(&self) -> usize {
        self.word_starts.len()
    }

    pub fn word(&self, index: usize) -> &str {
        let start = self.word_starts[index] as usize;
        let end = self.word_ends[index] as usize;
        &self.text[start..end]
    }

    /// The words `start..end`, joined by single spaces (how spans are shown in `why`).
    pub fn span(&self, start: usize, end: usize) -> &str {
        if start >= end || end > self.word_count() {
            return "";
        }
        &self.text[self.word_starts[start] as usize..self.word_ends[end - 1] as usize]
    }

    /// Appends `input` to the folded text. Called once for the title and once for the body;
    /// word indexes keep counting across calls.
    pub fn push(&mut self, input: &str) {
        if self.text.is_empty() {
            self.text.push(' ');
        } else {
            // Title and text are two clauses at least.
            self.clause_break();
        }
        // Folding never makes ASCII longer and rarely makes anything longer: one reserve
        // keeps the copy loop from growing the buffer as it goes.
        self.text.reserve(input.len() + 1);
        let bytes = input.as_bytes();
        let mut in_word = false;
        let mut at = 0;
        while at < bytes.len() {
            let byte = bytes[at];
            let lower = ASCII_WORD_LOWER[usize::from(byte)];
            if lower != 0 {
                // The common case, a run of ASCII letters and digits: scanned, lowercased and
                // copied in one pass.
                self.start_word(&mut in_word);
                self.text.push(char::from(lower));
                at += 1;
                while let Some(&next) = bytes.get(at) {
                    let lower = ASCII_WORD_LOWER[usize::from(next)];
                    if lower == 0 {
                        break;
                    }
                    self.text.push(char::from(lower));
                    at += 1;
                }
                continue;
            }
            if byte.is_ascii() {
                // Spaces and ASCII punctuation (the apostrophe of "l'export" too) end a word.
                self.end_word(&mut in_word);
                // A full stop ends a clause only after a word of two or more characters and
                // before a space or the end: "U.S.", "3.5" and "gpt-4.5" run on.
                let full_stop = byte == b'.'
                    && bytes.get(at + 1).is_none_or(u8::is_ascii_whitespace)
                    && at >= 2
                    && is_ascii_word(bytes[at - 1])
                    && is_ascii_word(bytes[at - 2]);
                // Not the colon: a headline's "Via libera USA: NVIDIA potrà vendere" is one
                // statement across it. Nor a decimal comma: "1,3 miliardi".
                let decimal_comma = byte == b','
                    && at >= 1
                    && bytes[at - 1].is_ascii_digit()
                    && bytes.get(at + 1).is_some_and(u8::is_ascii_digit);
                if (matches!(byte, b',' | b';' | b'!' | b'?' | b'(' | b')') && !decimal_comma)
                    || full_stop
                {
                    self.clause_break();
                }
                at += 1;
                continue;
            }
            // `at` only ever moves by whole characters, so it is a char boundary.
            let Some(c) = input[at..].chars().next() else {
                break;
            };
            at += c.len_utf8();
            if is_combining_mark(c) {
                // A combining accent belongs to the letter before it: dropping it is the fold,
                // and it must not split the word (decomposed "perche\u{301}").
            } else if c.is_alphanumeric() {
                for lower in c.to_lowercase() {
                    fold_char(lower, |base| self.push_word_char(&mut in_word, base));
                }
            } else {
                // Typographic apostrophes (’ ‘ ʼ), dashes and other punctuation separate words
                // too: "dell’H20" becomes "dell h20". Dashes and « » end a clause.
                self.end_word(&mut in_word);
                if matches!(c, '—' | '–' | '«' | '»' | '…') {
                    self.clause_break();
                }
            }
        }
        self.end_word(&mut in_word);
    }

    fn clause_break(&mut self) {
        let next = to_u32(self.word_count());
        if self.clause_breaks.last() != Some(&next) {
            self.clause_breaks.push(next);
        }
    }

    fn start_word(&mut self, in_word: &mut bool) {
        if !*in_word {
            *in_word = true;
            self.word_starts.push(to_u32(self.text.len()));
        }
    }

    fn push_word_char(&mut self, in_word: &mut bool, c: char) {
        self.start_word(in_word);
        self.text.push(c);
    }

    fn end_word(&mut self, in_word: &mut bool) {
        if !*in_word {
            return;
        }
        *in_word = false;
        let end = self.text.len();
        self.word_ends.push(to_u32(end));
        // Only a five-byte word can be an ECCN: look at its bytes without slicing the str.
        let start = self.word_starts.last().map_or(end, |&s| s as usize);
        if end - start == 5 && is_eccn(&self.text.as_bytes()[start..end]) {
            self.eccn_words.push(to_u32(self.word_count() - 1));
        }
        self.text.push(' ');
    }
}

/// For each byte, its lowercase form if it is an ASCII letter or digit, else 0: the folding
/// loop asks this of every byte, and one load answers both questions.
const ASCII_WORD_LOWER: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut byte = 0;
    while byte < 128 {
        let b = byte as u8;
        if b.is_ascii_alphanumeric() {
            table[byte] = b.to_ascii_lowercase();
        }
        byte += 1;
    }
    table
};

/// Whether a byte is an ASCII letter or digit.
fn is_ascii_word(byte: u8) -> bool {
    ASCII_WORD_LOWER[usize::from(byte)] != 0
}

/// Offsets are kept as u32 to halve the buffers; `classify` caps its input far below 4 GiB,
/// and saturating keeps any other caller from panicking.
fn to_u32(value: usize) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

/// Strips accents from one lowercase letter: the common Italian ones by table (the hot
/// path), anything else by canonical decomposition without its combining marks.
fn fold_char(c: char, mut emit: impl FnMut(char)) {
    let base = match c {
        'à' | 'á' | 'â' | 'ä' | 'ã' | 'å' => 'a',
        'è' | 'é' | 'ê' | 'ë' => 'e',
        'ì' | 'í' | 'î' | 'ï' => 'i',
        'ò' | 'ó' | 'ô' | 'ö' | 'õ' => 'o',
        'ù' | 'ú' | 'û' | 'ü' => 'u',
        'ç' => 'c',
        'ñ' => 'n',
        _ => {
            decompose_canonical(c, |d| {
                if !is_combining_mark(d) {
                    emit(d);
                }
            });
            return;
        }
    };
    emit(base);
}

/// An Export Control Classification Number such as `3a090` (folded): a digit 0–9, a
/// category letter a–e, and three digits.
fn is_eccn(b: &[u8]) -> bool {
    b.len() == 5
        && b[0].is_ascii_digit()
        && (b'a'..=b'e').contains(&b[1])
        && b[2..].iter().all(u8::is_ascii_digit)
}

/// Lowercase, accent-folded, elision-split text: words separated by single spaces.
pub fn fold(text: &str) -> String {
    let mut folded = Folded::default();
    folded.push(text);
    folded.text.trim().to_string()
}

/// An item's title and lead as subscription keywords are matched against (see
/// `Subscription::wants_text`): folded, with a space at each end.
pub fn keyword_text(title: &str, summary: &str) -> String {
    format!(" {} ", fold(&format!("{title} {summary}")))
}

/// Words that tell Italian from English; counted, never matched as topic terms. A `match`
/// compiles to a length switch and a few compares, which keeps detection off the profile.
fn stop_word_lang(word: &str) -> Option<Lang> {
    match word {
        "il" | "lo" | "la" | "gli" | "le" | "di" | "del" | "della" | "dei" | "delle" | "degli"
        | "dell" | "che" | "per" | "con" | "non" | "una" | "un" | "sono" | "nel" | "nella"
        | "alla" | "al" | "ai" | "alle" | "all" | "da" | "dal" | "dalla" | "ha" | "hanno"
        | "anche" | "come" | "piu" | "ma" | "si" | "sul" | "sulla" | "tra" | "e" | "questo"
        | "questa" | "nell" | "sull" | "perche" | "ancora" | "essere" | "stato" | "sua" | "suo" => {
            Some(Lang::It)
        }
        "the" | "of" | "and" | "to" | "in" | "is" | "for" | "on" | "with" | "that" | "by"
        | "from" | "as" | "are" | "was" | "it" | "its" | "at" | "be" | "has" | "have" | "will"
        | "said" | "this" | "an" | "which" | "would" | "after" | "but" | "not" | "or" | "their"
        | "been" | "were" | "says" | "than" | "into" | "over" => Some(Lang::En),
        _ => None,
    }
}

pub fn is_stop_word(word: &str) -> bool {
    stop_word_lang(word).is_some()
}

/// Counts Italian and English stop words; a tie (or no words) is Italian, the language of
/// the outlets chipwatch was built for.
pub(crate) fn detect_folded(folded: &Folded) -> Lang {
    let (mut italian, mut english) = (0u32, 0u32);
    for index in 0..folded.word_count() {
        match stop_word_lang(folded.word(index)) {
            Some(Lang::It) => italian += 1,
            Some(Lang::En) => english += 1,
            None => {}
        }
    }
    if english > italian {
        Lang::En
    } else {
        Lang::It
    }
}

/// The language of `text`, by stop-word counting.
pub fn detect_lang(text: &str) -> Lang {
    let mut folded = Folded::default();
    folded.push(text);
    detect_folded(&folded)
}

pub(crate) fn stemmer(lang: Lang) -> Stemmer {
    Stemmer::create(match lang {
        Lang::It => Algorithm::Italian,
        Lang::En => Algorithm::English,
    })
}

/// Folded, elision-split, Snowball-stemmed tokens of `text` in `lang`.
pub fn stems(text: &str, lang: Lang) -> Vec<String> {
    let mut folded = Folded::default();
    folded.push(text);
    let stemmer = stemmer(lang);
    (0..folded.word_count())
        .map(|index| stemmer.stem(folded.word(index)).into_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_handles_accents_elision_and_model_names() {
        let cases = [
            ("Perché la Cina?", "perche la cina"),
            ("l'export dell’H20", "l export dell h20"),
            ("L‘AJA e l`UE", "l aja e l ue"),
            ("NVIDIA H200, B200 e MI308", "nvidia h200 b200 e mi308"),
            ("ECCN 3A090.a", "eccn 3a090 a"),
            ("open-source MiDashengLM-7B", "open source midashenglm 7b"),
            ("perche\u{301} COSÌ", "perche cosi"),
            ("Ascend 910C — SMIC N+2", "ascend 910c smic n 2"),
            ("ŁÓDŹ straße", "łodz straße"),
            ("", ""),
            ("  ¿¡!!  ", ""),
        ];
        for (input, expect) in cases {
            assert_eq!(fold(input), expect, "fold({input:?})");
        }
    }

    #[test]
    fn words_and_eccn_codes_are_indexed() {
        let mut folded = Folded::default();
        folded.push("Controlli su 3A090 e 4A090");
        folded.push("H20");
        assert_eq!(folded.text, " controlli su 3a090 e 4a090 h20 ");
        assert_eq!(folded.word_count(), 6);
        assert_eq!(folded.word(5), "h20");
        assert_eq!(folded.span(2, 5), "3a090 e 4a090");
        assert_eq!(folded.eccn_words, vec![2, 4]);
        assert_eq!(folded.clause_breaks, vec![5], "the title's end");
        assert_eq!(folded.span(4, 99), "");
    }

    #[test]
    fn clause_breaks_fall_at_punctuation_not_inside_abbreviations() {
        let cases: &[(&str, &[u32])] = &[
            (
                "Pechino sospende lo stop alle terre rare, Washington allenta",
                &[7],
            ),
            (
                "Chip: gli U.S. vietano l'export. Poi la Cina risponde",
                &[7],
            ),
            ("NVIDIA (H20) — vendite ferme; GPT-4.5 resta", &[1, 2, 4]),
            ("«Stop» ai chip", &[0, 1]),
            ("aiuti per 1,3 miliardi, poi", &[5]),
            ("nessuna punteggiatura qui", &[]),
        ];
        for (text, expect) in cases {
            let mut folded = Folded::default();
            folded.push(text);
            assert_eq!(folded.clause_breaks, *expect, "{text}");
        }
        let mut folded = Folded::default();
        folded.push("Stretta sui chip, Pechino risponde");
        assert!(folded.breaks_between(3, 3), "chip | pechino");
        assert!(!folded.breaks_between(1, 2), "sui chip");
        assert!(folded.breaks_between(1, 4));
    }

    #[test]
    fn language_is_detected_by_stop_words() {
        let cases = [
            (
                "Gli Stati Uniti hanno revocato il divieto di vendita del chip",
                Lang::It,
            ),
            (
                "The US has lifted the ban on sales of the chip to China",
                Lang::En,
            ),
            ("", Lang::It),
            ("NVIDIA H20", Lang::It),
        ];
        for (text, expect) in cases {
            assert_eq!(detect_lang(text), expect, "{text}");
        }
    }

    #[test]
    fn stems_follow_snowball() {
        let cases = [
            (
                "esportazioni esportare restrizioni dazi",
                Lang::It,
                "esport esport restrizion daz",
            ),
            ("dell’esportazione", Lang::It, "dell esport"),
            (
                "export restrictions banned",
                Lang::En,
                "export restrict ban",
            ),
        ];
        for (text, lang, expect) in cases {
            assert_eq!(stems(text, lang).join(" "), expect, "{text}");
        }
    }
}
