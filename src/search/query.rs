//! The query language of `GET /api/v1/search`, small on purpose: words separated by spaces must
//! all match; `"…"` is an exact phrase; a leading `-` excludes a word or phrase. Anything else
//! (`*`, `:`, brackets, `AND`) is ordinary text, so no query is a syntax error: an unbalanced quote
//! runs to the end, and a clause with nothing searchable in it is dropped.

use super::analyzer;

/// One clause of a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Clause {
    /// A word as jieba cuts it from the query, folded (lower case, half-width, simplified).
    Word(String),
    /// An exact sequence of characters, folded.
    Phrase(String),
}

/// A parsed query: what must match and what must not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parsed {
    pub must: Vec<Clause>,
    pub must_not: Vec<Clause>,
}

impl Parsed {
    /// The folded texts to mark in snippets: the words and phrases that must match.
    pub fn needles(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .must
            .iter()
            .map(|c| match c {
                Clause::Word(w) | Clause::Phrase(w) => w.clone(),
            })
            .collect();
        // Longest first, so overlapping needles mark the longer match.
        out.sort_by_key(|n| std::cmp::Reverse(n.chars().count()));
        out.dedup();
        out
    }

    pub fn is_empty(&self) -> bool {
        self.must.is_empty() && self.must_not.is_empty()
    }
}

impl std::fmt::Display for Parsed {
    /// The query as it could be typed again: words, quoted phrases, `-` before exclusions.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut first = true;
        for (negated, c) in self
            .must
            .iter()
            .map(|c| (false, c))
            .chain(self.must_not.iter().map(|c| (true, c)))
        {
            if !first {
                f.write_str(" ")?;
            }
            first = false;
            if negated {
                f.write_str("-")?;
            }
            match c {
                Clause::Word(w) => f.write_str(w)?,
                Clause::Phrase(p) => write!(f, "\"{p}\"")?,
            }
        }
        Ok(())
    }
}

/// Words that mean the same here, as administrators list them (`services::synonyms`): groups of
/// terms, each term folded. A query's word or phrase that is a term of a group also matches the
/// group's other terms (ranked a little below itself).
#[derive(Debug, Clone, Default)]
pub struct Synonyms {
    /// Each term's group (the other terms as clauses), by folded term.
    by_term: std::collections::HashMap<String, Vec<Clause>>,
}

impl Synonyms {
    /// From groups of terms as written; terms that fold to nothing searchable are left out.
    pub fn new<S: AsRef<str>>(groups: &[Vec<S>]) -> Self {
        let mut by_term: std::collections::HashMap<String, Vec<Clause>> = Default::default();
        for group in groups {
            let clauses: Vec<(String, Clause)> = group
                .iter()
                .filter_map(|t| {
                    let c = phrase(t.as_ref())?;
                    let key = match &c {
                        Clause::Word(w) | Clause::Phrase(w) => w.clone(),
                    };
                    Some((key, c))
                })
                .collect();
            for (key, _) in &clauses {
                let others = by_term.entry(key.clone()).or_default();
                for (k, c) in &clauses {
                    if k != key && !others.contains(c) {
                        others.push(c.clone());
                    }
                }
            }
        }
        Self { by_term }
    }

    /// The other terms of the groups `c` is a term of (empty for most clauses).
    pub fn of(&self, c: &Clause) -> &[Clause] {
        let key = match c {
            Clause::Word(w) | Clause::Phrase(w) => w,
        };
        self.by_term.get(key).map(Vec::as_slice).unwrap_or(&[])
    }

    pub fn is_empty(&self) -> bool {
        self.by_term.is_empty()
    }
}

/// At most this many clauses are taken from a query; the rest is ignored.
pub const MAX_CLAUSES: usize = 16;

/// Parses `q` (see the module documentation).
pub fn parse(q: &str) -> Parsed {
    let mut parsed = Parsed::default();
    let mut chars = q.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let negated = c == '-' || c == '－';
        if negated {
            chars.next();
            if chars.peek().is_none_or(|c| c.is_whitespace()) {
                continue;
            }
        }
        let quoted = chars.peek().is_some_and(|&c| is_quote(c));
        let mut text = String::new();
        if quoted {
            chars.next();
            for c in chars.by_ref() {
                if is_quote(c) {
                    break;
                }
                text.push(c);
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() || is_quote(c) {
                    break;
                }
                text.push(c);
                chars.next();
            }
        }
        let clauses: Vec<Clause> = if quoted {
            phrase(&text).into_iter().collect()
        } else {
            let words = analyzer::query_words(&text);
            if negated && words.len() > 1 {
                // `-党史学习` excludes the sequence, not each of its words.
                phrase(&text).into_iter().collect()
            } else {
                // jieba keeps a hyphen with characters it has no rule for (`䷀-𠀀` gives the word
                // `-𠀀`), and a word that starts with a minus prints as an exclusion, so the
                // query shown back ("did you mean") would mean something else. The minus says
                // nothing searchable (`meaningful` needs a letter or digit), so it goes.
                words
                    .into_iter()
                    .map(|w| match w.strip_prefix(['-', '－']) {
                        Some(rest) => Clause::Word(rest.trim_start_matches(['-', '－']).to_owned()),
                        None => Clause::Word(w),
                    })
                    .collect()
            }
        };
        let target = if negated {
            &mut parsed.must_not
        } else {
            &mut parsed.must
        };
        for c in clauses {
            if target.len() < MAX_CLAUSES && !target.contains(&c) {
                target.push(c);
            }
        }
    }
    parsed
}

fn is_quote(c: char) -> bool {
    matches!(c, '"' | '“' | '”' | '＂')
}

/// A phrase clause of `text`, folded and with its ends trimmed; `None` when nothing in it can be
/// searched (punctuation only).
fn phrase(text: &str) -> Option<Clause> {
    let folded = analyzer::fold(text).text;
    let trimmed = folded.trim_matches(|c: char| !c.is_alphanumeric());
    let words = analyzer::query_words(trimmed);
    match words.len() {
        0 => None,
        // One word is matched as a word, which also finds it inside longer words.
        1 if words[0] == trimmed => Some(Clause::Word(words[0].clone())),
        _ => Some(Clause::Phrase(trimmed.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Clause {
        Clause::Word(s.into())
    }
    fn p(s: &str) -> Clause {
        Clause::Phrase(s.into())
    }

    #[test]
    fn words_phrases_and_exclusions() {
        let q = parse(r#"党史 "乡村振兴战略" -农业 -"基层党建""#);
        assert_eq!(q.must, vec![w("党史"), p("乡村振兴战略")]);
        assert_eq!(q.must_not, vec![w("农业"), p("基层党建")]);
        assert_eq!(parse("乡村振兴").must, vec![w("乡村"), w("振兴")]);
        assert_eq!(parse("-党史学习").must_not, vec![p("党史学习")]);
        assert_eq!(
            parse("“黨史”").must,
            vec![w("党史")],
            "curly quotes, folded"
        );
    }

    #[test]
    fn hostile_queries_parse_to_something_or_nothing() {
        assert!(
            parse("\"党史").must == vec![w("党史")],
            "an unbalanced quote"
        );
        for q in ["", "\"\"", "*", "-", "--", "!!!，。；", "\u{0}\u{7}", "((("] {
            assert!(parse(q).must.is_empty(), "{q:?}: {:?}", parse(q));
        }
        assert_eq!(parse("title:党史").must, vec![w("title"), w("党史")]);
        let long = "党".repeat(10_000);
        assert!(parse(&long).must.len() <= MAX_CLAUSES);
        let many = (0..100)
            .map(|i| format!("w{i}"))
            .collect::<Vec<_>>()
            .join(" ");
        assert_eq!(parse(&many).must.len(), MAX_CLAUSES);
    }

    #[test]
    fn a_word_cut_with_a_leading_minus_is_not_printed_as_an_exclusion() {
        // Issue 15 (hostile input), found by `props_query_parse_is_total_and_reprints`: jieba
        // cut `䷀-𠀀` into the word `-𠀀`, which printed as the exclusion `-𠀀`.
        let q = parse("䷀-𠀀");
        assert!(q.must_not.is_empty(), "{q:?}");
        assert_eq!(parse(&q.to_string()), q);
    }

    #[test]
    fn a_parsed_query_prints_as_it_could_be_typed_again() {
        let q = parse(r#"党史 "学习教育" -形式"#);
        assert_eq!(q.to_string(), r#"党史 "学习教育" -形式"#);
        assert_eq!(parse(&q.to_string()), q);
    }

    #[test]
    fn synonyms_map_each_term_to_the_others_of_its_groups() {
        let s = Synonyms::new(&[
            vec!["党课", "党员教育课"],
            vec!["培训", "轮训", "學習班"],
            vec!["!!"],
        ]);
        assert_eq!(s.of(&w("党课")), [p("党员教育课")]);
        assert_eq!(s.of(&p("党员教育课")), [w("党课")]);
        // Folded: the traditional term is found by its simplified form.
        let o = s.of(&w("培训"));
        assert_eq!(o.len(), 2);
        assert_eq!(o[0], w("轮训"));
        assert!(matches!(&o[1], Clause::Word(x) | Clause::Phrase(x) if x == "学习班"));
        assert!(s.of(&w("党史")).is_empty());
        assert!(!s.is_empty());
        assert!(Synonyms::default().is_empty());
    }

    #[test]
    fn needles_are_longest_first() {
        let q = parse(r#"党 "党史学习""#);
        assert_eq!(q.needles(), vec!["党史学习".to_owned(), "党".to_owned()]);
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use crate::props::{config, hostile};
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(config())]

        /// No query is a syntax error: anything parses, to at most `MAX_CLAUSES` clauses that
        /// each hold something to search, and what it prints parses back to the same query.
        #[test]
        fn props_query_parse_is_total_and_reprints(q in prop_oneof![
            hostile("ab 党史学习 \"“”「」-－*:()AND\t\u{0}\u{3000}", 80),
            any::<String>(),
        ]) {
            let parsed = parse(&q);
            prop_assert!(parsed.must.len() <= MAX_CLAUSES);
            for c in parsed.must.iter().chain(&parsed.must_not) {
                let (Clause::Word(t) | Clause::Phrase(t)) = c;
                prop_assert!(!t.trim().is_empty(), "empty clause in {:?}", parsed);
            }
            prop_assert_eq!(parse(&parsed.to_string()), parsed);
        }
    }
}
