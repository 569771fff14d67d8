//! Pinyin as people type it: the spellings Chinese input methods accept as the same ("fuzzy
//! pinyin": z/zh, c/ch, s/sh, n/l, an/ang, en/eng, in/ing), and the strings one slip of a key
//! away (a letter missing, extra, wrong, or two swapped), from which the index picks a correction.
//!
//! Both work on what the query says, against the pinyin the index already holds: nothing is
//! indexed twice for them.

use pinyin::ToPinyinMulti;
use std::collections::HashSet;
use std::sync::OnceLock;

/// Every toneless syllable that a common character reads as (`zhong`, `lv` …), about 400.
fn syllables() -> &'static HashSet<&'static str> {
    static SYLLABLES: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SYLLABLES.get_or_init(|| {
        ('\u{4E00}'..='\u{9FFF}')
            .filter_map(|c| c.to_pinyin_multi())
            .flat_map(|m| m.into_iter().map(|p| super::analyzer::typed(p.plain())))
            .collect()
    })
}

/// The longest syllable.
const MAX_SYLLABLE: usize = 6;

/// `word` cut into syllables, fewest first (`xian` stays one syllable, `dangshi` is `dang shi`);
/// `None` when it is not a run of syllables. Only lower-case ASCII letters are read.
pub fn split(word: &str) -> Option<Vec<&str>> {
    if word.is_empty() || !word.bytes().all(|b| b.is_ascii_lowercase()) {
        return None;
    }
    let known = syllables();
    let n = word.len();
    // best[i]: the fewest syllables covering word[..i], and where the last one starts.
    let mut best: Vec<Option<(usize, usize)>> = vec![None; n + 1];
    best[0] = Some((0, 0));
    for end in 1..=n {
        for start in end.saturating_sub(MAX_SYLLABLE)..end {
            let Some((count, _)) = best[start] else {
                continue;
            };
            if known.contains(&word[start..end]) && best[end].is_none_or(|(c, _)| count + 1 < c) {
                best[end] = Some((count + 1, start));
            }
        }
    }
    let mut out = Vec::new();
    let mut end = n;
    while end > 0 {
        let (_, start) = best[end]?;
        out.push(&word[start..end]);
        end = start;
    }
    out.reverse();
    Some(out)
}

/// The pairs of initials and of finals that input methods let people confuse.
const INITIALS: [(&str, &str); 4] = [("zh", "z"), ("ch", "c"), ("sh", "s"), ("l", "n")];
const FINALS: [(&str, &str); 3] = [("ang", "an"), ("eng", "en"), ("ing", "in")];

/// A syllable and the syllables it may be mistaken for (itself first).
fn confusable(s: &str) -> Vec<String> {
    let known = syllables();
    let mut heads = vec![(String::new(), s)];
    for (a, b) in INITIALS {
        for (from, to) in [(a, b), (b, a)] {
            // `z` is not the start of `zh`: swap whole initials only.
            let whole = s.strip_prefix(from).filter(|rest| {
                from.len() == 2 || !(rest.starts_with('h') && matches!(from, "z" | "c" | "s"))
            });
            if let Some(rest) = whole {
                heads.push((to.to_owned(), rest));
            }
        }
    }
    let mut out: Vec<String> = Vec::new();
    for (initial, rest) in heads {
        let mut tails = vec![rest.to_owned()];
        for (a, b) in FINALS {
            for (from, to) in [(a, b), (b, a)] {
                if let Some(stem) = rest.strip_suffix(from) {
                    tails.push(format!("{stem}{to}"));
                }
            }
        }
        for tail in tails {
            let candidate = format!("{initial}{tail}");
            if known.contains(candidate.as_str()) && !out.contains(&candidate) {
                out.push(candidate);
            }
        }
    }
    if out.first().map(String::as_str) != Some(s) {
        out.retain(|c| c != s);
        out.insert(0, s.to_owned());
    }
    out
}

/// At most this many other spellings of one word are searched.
pub const MAX_VARIANTS: usize = 24;

/// The other spellings of the pinyin `word` that input methods treat as the same (`zongguo` →
/// `zhongguo`, `zhonggo`…), without `word` itself; empty when `word` is not a run of syllables.
pub fn variants(word: &str) -> Vec<String> {
    let Some(parts) = split(word) else {
        return Vec::new();
    };
    let mut out: Vec<String> = vec![String::new()];
    for part in parts {
        let choices = confusable(part);
        let mut next = Vec::with_capacity(out.len() * choices.len());
        'grow: for stem in &out {
            for c in &choices {
                if next.len() > MAX_VARIANTS {
                    break 'grow;
                }
                next.push(format!("{stem}{c}"));
            }
        }
        out = next;
    }
    out.retain(|v| v != word);
    out.truncate(MAX_VARIANTS);
    out
}

/// Every string one slip away from `word`: a letter left out, one too many, one wrong, or two
/// neighbours swapped. Lower-case ASCII letters only; empty for anything else.
pub fn one_slip(word: &str) -> Vec<String> {
    if word.is_empty() || word.len() > 32 || !word.bytes().all(|b| b.is_ascii_lowercase()) {
        return Vec::new();
    }
    let b = word.as_bytes();
    let mut out: HashSet<Vec<u8>> = HashSet::new();
    for i in 0..b.len() {
        let mut v = b.to_vec();
        v.remove(i);
        out.insert(v);
        if i + 1 < b.len() {
            let mut v = b.to_vec();
            v.swap(i, i + 1);
            out.insert(v);
        }
        for c in b'a'..=b'z' {
            let mut v = b.to_vec();
            v[i] = c;
            out.insert(v);
        }
    }
    for i in 0..=b.len() {
        for c in b'a'..=b'z' {
            let mut v = b.to_vec();
            v.insert(i, c);
            out.insert(v);
        }
    }
    out.remove(b);
    let mut out: Vec<String> = out
        .into_iter()
        .filter(|v| !v.is_empty())
        .filter_map(|v| String::from_utf8(v).ok())
        .collect();
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinyin_is_cut_into_the_fewest_syllables() {
        assert_eq!(split("dangshi").unwrap(), ["dang", "shi"]);
        assert_eq!(split("xian").unwrap(), ["xian"]);
        assert_eq!(split("zhongguogongchandang").unwrap().len(), 5);
        assert_eq!(split("dangsi").unwrap(), ["dang", "si"]);
        assert!(split("qqq").is_none());
        assert!(split("Dang").is_none());
        assert!(split("").is_none());
    }

    #[test]
    fn fuzzy_spellings_are_what_input_methods_accept() {
        let v = variants("zongguo");
        assert!(v.contains(&"zhongguo".to_owned()), "{v:?}");
        // s/sh, and ang/an on the same word.
        let v = variants("dangsi");
        assert!(v.contains(&"dangshi".to_owned()), "{v:?}");
        assert!(v.contains(&"danshi".to_owned()), "{v:?}");
        // n/l, en/eng, in/ing.
        assert!(variants("nvxing").contains(&"lvxing".to_owned()));
        assert!(variants("chenggong").contains(&"chengong".to_owned()));
        assert!(variants("xinxi").contains(&"xingxi".to_owned()));
        // Only real syllables come out: `zh` + `ang` → `zang`, never `zhn`.
        for v in variants("zhang") {
            assert!(split(&v).is_some(), "{v}");
        }
        assert!(!variants("dangshi").contains(&"dangshi".to_owned()));
        assert!(variants("abc1").is_empty());
        // Bounded however long the word.
        assert!(variants(&"zhangsheng".repeat(4)).len() <= MAX_VARIANTS);
    }

    #[test]
    fn one_slip_covers_missing_extra_wrong_and_swapped_letters() {
        let s = one_slip("dangshi");
        for typo_of in [
            "dngshi", "dangshii", "danxshi", "adngshi", "dangsh", "xdangshi",
        ] {
            assert!(s.contains(&typo_of.to_owned()), "{typo_of}");
        }
        assert!(!s.contains(&"dangshi".to_owned()));
        assert!(!s.contains(&"dagnshiii".to_owned()));
        assert!(one_slip("党史").is_empty());
        assert!(one_slip("").is_empty());
        // 7 removals + 6 swaps + 7×25 changes + 8×26 insertions, fewer the coincidences.
        assert!(s.len() <= 7 + 6 + 7 * 25 + 8 * 26);
    }
}
