//! Podcast feeds: RSS 2.0 with Apple's iTunes namespace, one per audio series. Items are the
//! series' audio lessons the caller may read, newest first; each encloses the lesson's
//! 64 kbit/s audio rendition when it is made (what village players and phones on weak
//! connections want), else its audio master (URL, length, type), under a GUID that never
//! changes (`urn:lectern:lesson:<id>`).

use super::xml::Xml;
use crate::db::assets::AssetRecord;
use crate::db::lessons::LessonRecord;
use crate::db::media::RenditionRecord;

/// RFC 2822 time, as RSS wants it.
fn rfc2822(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    t.format(&time::format_description::well_known::Rfc2822)
        .unwrap_or_default()
}

/// The audio file a lesson is listened to from: its master, if that is audio.
pub fn enclosure<'a>(lesson: &LessonRecord, assets: &'a [AssetRecord]) -> Option<&'a AssetRecord> {
    assets
        .iter()
        .filter(|a| a.lesson_id == lesson.id && a.content_type.starts_with("audio/"))
        .min_by_key(|a| {
            (
                a.role != crate::domain::asset::AssetRole::Master,
                a.created_at,
            )
        })
}

/// The feed of series `name` (id `series_id`) at `self_url`, for `lessons` (newest first) and
/// their `assets`, with the ready `audio_64k` renditions of those assets' contents;
/// `base` is the service's address.
pub fn render(
    base: &str,
    self_url: &str,
    name: &str,
    lessons: &[LessonRecord],
    assets: &[AssetRecord],
    audio_64k: &[RenditionRecord],
) -> String {
    let mut x = Xml::document();
    x.open(
        "rss",
        &[
            ("version", "2.0"),
            ("xmlns:itunes", "http://www.itunes.com/dtds/podcast-1.0.dtd"),
            ("xmlns:atom", "http://www.w3.org/2005/Atom"),
            ("xmlns:content", "http://purl.org/rss/1.0/modules/content/"),
        ],
    );
    x.open("channel", &[]);
    x.el("title", name);
    x.el("link", base);
    x.open(
        "atom:link",
        &[
            ("href", self_url),
            ("rel", "self"),
            ("type", "application/rss+xml"),
        ],
    );
    x.close("atom:link");
    let lecturers: Vec<&str> = {
        let mut l: Vec<&str> = lessons
            .iter()
            .filter_map(|l| l.lecturer.as_deref())
            .collect();
        l.sort_unstable();
        l.dedup();
        l
    };
    let description = format!("{name}（{} 讲）", lessons.len());
    x.el("description", &description);
    x.el("language", "zh-cn");
    x.el("generator", "Lectern");
    if let Some(newest) = lessons.iter().filter_map(|l| l.published_at).max() {
        x.el("lastBuildDate", &rfc2822(newest));
    }
    let artwork = format!("{base}/feeds/artwork.png");
    x.open("image", &[]);
    x.el("url", &artwork);
    x.el("title", name);
    x.el("link", base);
    x.close("image");
    x.open("itunes:image", &[("href", &artwork)]);
    x.close("itunes:image");
    if !lecturers.is_empty() {
        x.el("itunes:author", &lecturers.join("、"));
    }
    x.el("itunes:summary", &description);
    x.open("itunes:category", &[("text", "Education")]);
    x.close("itunes:category");
    x.el("itunes:explicit", "false");
    x.el("itunes:type", "episodic");
    for l in lessons {
        let Some(audio) = enclosure(l, assets) else {
            continue;
        };
        x.open("item", &[]);
        x.el("title", &l.title);
        if !l.description.is_empty() {
            x.el("description", &l.description);
            x.el("itunes:summary", &l.description);
        }
        let small = audio_64k
            .iter()
            .find(|r| r.source_sha256 == audio.sha256)
            .and_then(|r| Some((r.size?, r.content_type.as_deref()?)));
        let (url, length, content_type) = match small {
            Some((size, content_type)) => (
                format!("{base}/api/v1/assets/{}/media/audio_64k/file", audio.id),
                size,
                content_type,
            ),
            None => (
                format!("{base}/api/v1/assets/{}/content", audio.id),
                audio.size,
                audio.content_type.as_str(),
            ),
        };
        x.open(
            "enclosure",
            &[
                ("url", &url),
                ("length", &length.to_string()),
                ("type", content_type),
            ],
        );
        x.close("enclosure");
        x.open("guid", &[("isPermaLink", "false")]);
        x.text(&format!("urn:lectern:lesson:{}", l.id));
        x.close("guid");
        if let Some(t) = l.published_at {
            x.el("pubDate", &rfc2822(t));
        }
        if let Some(a) = &l.lecturer {
            x.el("itunes:author", a);
        }
        x.el("itunes:explicit", "false");
        x.close("item");
    }
    x.close("channel");
    x.close("rss");
    x.into_string()
}
