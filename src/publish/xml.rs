//! The one XML writer of the publication formats (OAI-PMH responses, podcast feeds).
//!
//! Invariant: whatever a lesson, an organisation or a request holds, the document written is
//! well-formed XML 1.0. Every text and attribute value goes through [`Xml::text`] or an
//! attribute of [`Xml::open`], both of which pass it through [`clean`] (dropping the characters
//! XML 1.0 forbids or discourages) and then escape it; the buffer is private, so there is no
//! other way in. Markup (tag and attribute names) comes from this crate's code, not from data.
//!
//! *Rationale:* the HTTP API refuses such characters on input, but rows written before that
//! rule, by an import or straight into SQL, still reach these writers; one unreadable record
//! would stop a harvester at that page for good.

use quick_xml::escape::escape;

/// An XML document or fragment being written.
#[derive(Default)]
pub struct Xml(String);

impl Xml {
    /// A document: the XML declaration, then what is written.
    pub fn document() -> Self {
        Xml(String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"))
    }

    /// `<tag attr="value" …>`, the values cleaned and escaped.
    pub fn open(&mut self, tag: &str, attrs: &[(&str, &str)]) {
        self.0.push('<');
        self.0.push_str(tag);
        for (k, v) in attrs {
            self.0.push(' ');
            self.0.push_str(k);
            self.0.push_str("=\"");
            self.0.push_str(&escape(clean(v).as_ref()));
            self.0.push('"');
        }
        self.0.push('>');
    }

    /// `</tag>`.
    pub fn close(&mut self, tag: &str) {
        self.0.push_str("</");
        self.0.push_str(tag);
        self.0.push('>');
    }

    /// Character data, cleaned and escaped.
    pub fn text(&mut self, text: &str) {
        self.0.push_str(&escape(clean(text).as_ref()));
    }

    /// `<tag>text</tag>`.
    pub fn el(&mut self, tag: &str, text: &str) {
        self.open(tag, &[]);
        self.text(text);
        self.close(tag);
    }

    /// Appends a fragment written by another `Xml` (and so already clean).
    pub fn append(&mut self, fragment: Xml) {
        self.0.push_str(&fragment.0);
    }

    /// The text written.
    pub fn into_string(self) -> String {
        self.0
    }
}

/// Whether XML 1.0 lets `c` appear in a document (production `Char`: tab, line feed, carriage
/// return, U+0020–U+D7FF, U+E000–U+FFFD, U+10000–U+10FFFF) and does not discourage it (§2.2:
/// the C1 controls but U+0085, and the noncharacters U+FDD0–U+FDEF and U+xFFFE/U+xFFFF of
/// every plane).
pub fn allowed(c: char) -> bool {
    // The input rule (`domain::text`) already keeps the controls and noncharacters out of new
    // text; here the C1 controls go too, which XML 1.0 allows but discourages.
    crate::domain::text::allowed(c) && !matches!(c, '\u{7f}'..='\u{84}' | '\u{86}'..='\u{9f}')
}

/// `text` without the characters [`allowed`] refuses; borrowed when there are none.
pub fn clean(text: &str) -> std::borrow::Cow<'_, str> {
    if text.chars().all(allowed) {
        std::borrow::Cow::Borrowed(text)
    } else {
        std::borrow::Cow::Owned(text.chars().filter(|&c| allowed(c)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_attributes_are_escaped() {
        let mut x = Xml::default();
        x.open("a", &[("b", "\"<&>")]);
        x.el("c", "党史 & <b>");
        x.close("a");
        assert_eq!(
            x.into_string(),
            "<a b=\"&quot;&lt;&amp;&gt;\"><c>党史 &amp; &lt;b&gt;</c></a>"
        );
    }

    #[test]
    fn characters_xml_forbids_or_discourages_are_dropped() {
        let mut x = Xml::default();
        x.open("a", &[("b", "1\u{0}2\u{fffe}3")]);
        x.el(
            "c",
            "x\u{1}\u{8}\u{b}\u{c}\u{1f}\u{7f}\u{80}\u{9f}\u{fdd0}\u{fdef}\u{fffe}\u{ffff}\u{1fffe}\u{10ffff}y",
        );
        x.close("a");
        assert_eq!(x.into_string(), "<a b=\"123\"><c>xy</c></a>");
    }

    #[test]
    fn what_xml_allows_is_kept() {
        let kept =
            "\t\n\r \u{85}\u{a0}党\u{d7ff}\u{e000}\u{fdcf}\u{fdf0}\u{fffd}\u{10000}\u{1fffd}";
        assert!(kept.chars().all(allowed));
        assert!(matches!(clean(kept), std::borrow::Cow::Borrowed(_)));
    }
}
