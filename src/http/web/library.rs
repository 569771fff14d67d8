//! The members' library: the front page, search results, a lesson's page with its player, a
//! series and a lecturer. Each handler calls `services::library` or `services::search` (on the
//! library shelf) and renders what it answers; nothing here decides what may be read.

use super::i18n::Lang;
use super::{Flow, PageResult, Web};
use crate::domain::lesson::LessonKind;
use crate::domain::media::RenditionKind;
use crate::domain::time::china_day as day;
use crate::http::error::AppError;
use crate::http::extract::{Path, Query};
use crate::services::library::{self, Card};
use crate::services::search::{self, Shelf};
use axum::extract::RawQuery;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use minijinja::{Value, context};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Deserialize;

/// A path segment or query value, percent-encoded.
fn enc(s: &str) -> String {
    utf8_percent_encode(s, NON_ALPHANUMERIC).to_string()
}

/// Milliseconds as `m:ss` or `h:mm:ss`.
pub(super) fn clock(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    let (h, m, s) = (s / 3600, s / 60 % 60, s % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

/// The date a lesson is known by: recorded, else published.
fn lesson_date(l: &crate::db::lessons::LessonRecord) -> String {
    l.recorded_on
        .clone()
        .or_else(|| l.published_at.map(day))
        .unwrap_or_default()
}

fn kind_key(k: LessonKind) -> String {
    format!("kind.{}", k.as_str())
}

/// A card as the templates take it.
fn card_view(c: &Card) -> Value {
    let l = &c.lesson;
    let picture = match (&c.master, c.picture) {
        (Some(m), Some(k)) => Some(format!("/api/v1/assets/{m}/media/{}/file", k.as_str())),
        _ => None,
    };
    context! {
        id => l.id,
        href => format!("/learn/{}", l.id),
        title => l.title,
        kind => l.kind.as_str(),
        kind_key => kind_key(l.kind),
        lecturer => l.lecturer,
        lecturer_href => l.lecturer.as_deref().map(|n| format!("/lecturers/{}", enc(n))),
        series => l.series,
        date => lesson_date(l),
        duration => c.duration_ms.map(clock),
        picture => picture,
    }
}

fn cards_view(cards: &[Card]) -> Vec<Value> {
    cards.iter().map(card_view).collect()
}

/// The content security policy of a library page: the site's own, with media, pictures and
/// playlists' segments allowed from object storage (presigned URLs point there) and the player's
/// media source (`blob:`) and worker.
fn library_csp(web: &Web) -> HeaderValue {
    let store = web.state.store.origin();
    let policy = format!(
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
         img-src 'self' data: {store}; media-src 'self' blob: {store}; \
         connect-src 'self' {store}; worker-src 'self' blob:; frame-ancestors 'none'; \
         form-action 'self'; base-uri 'none'"
    );
    HeaderValue::from_str(&policy).unwrap_or_else(|_| {
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
             img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        )
    })
}

/// Renders a library page with its policy.
fn library_page(web: &Web, name: &str, ctx: Value) -> PageResult {
    let mut response = web.page(name, ctx)?;
    response
        .headers_mut()
        .insert(header::CONTENT_SECURITY_POLICY, library_csp(web));
    Ok(response)
}

/// `/`: search, the newest lessons, featured series, and what to browse by.
pub async fn home(web: Web) -> Response {
    let r = async {
        let front = library::front(&web.state.db, &web.state.search, &web.caller).await?;
        let resume: Vec<Value> = library::continue_watching(&web.state.db, &web.caller, 6)
            .await?
            .iter()
            .map(|r| {
                let second = r.position_ms / 1000;
                let percent = r
                    .duration_ms
                    .filter(|d| *d > 0)
                    .map(|d| (r.position_ms * 100 / d).clamp(0, 100));
                context! {
                    card => card_view(&r.card),
                    href => format!("/learn/{}?t={second}", r.card.lesson.id),
                    at => clock(r.position_ms),
                    percent,
                }
            })
            .collect();
        let series: Vec<Value> = front
            .series
            .iter()
            .map(|s| {
                context! {
                    name => s.name,
                    href => format!("/series/{}", enc(&s.name)),
                    episodes => s.episodes,
                    cards => cards_view(&s.first),
                }
            })
            .collect();
        let kinds: Vec<Value> = front
            .kinds
            .iter()
            .map(|(k, n)| context! { key => kind_key(*k), href => format!("/search?kind={}", k.as_str()), count => n })
            .collect();
        let tags: Vec<Value> = front
            .tags
            .iter()
            .map(|(t, n)| context! { name => t, href => format!("/search?tag={}", enc(t)), count => n })
            .collect();
        let regions: Vec<Value> = front
            .regions
            .iter()
            .map(|(code, name, n)| {
                context! { name => name.unwrap_or(code.as_str()), href => format!("/search?region={code}"), count => n }
            })
            .collect();
        let lecturers: Vec<Value> = front
            .lecturers
            .iter()
            .map(|(l, n)| context! { name => l, href => format!("/lecturers/{}", enc(l)), count => n })
            .collect();
        library_page(
            &web,
            "library/home.html",
            context! {
                newest => cards_view(&front.newest),
                resume, series, kinds, tags, regions, lecturers,
                total => front.total,
            },
        )
    }
    .await;
    web.respond(r)
}

#[derive(Debug, Default, Deserialize)]
pub struct SearchForm {
    q: Option<String>,
    kind: Option<String>,
    tag: Option<String>,
    lecturer: Option<String>,
    series: Option<String>,
    region: Option<String>,
    from: Option<String>,
    to: Option<String>,
    sort: Option<String>,
    page: Option<String>,
    /// The page's language (read by [`Web`] from the query string).
    #[allow(dead_code)]
    lang: Option<String>,
}

/// Hits per results page, and the most pages offered.
const PER_PAGE: usize = 10;

/// `/search?q=…`: hits with their matching moments and pages, facets as filters, paging.
pub async fn search_page(web: Web, RawQuery(raw): RawQuery) -> Response {
    let r = async {
        // Every filter is in the query string (shareable, and the back button works); an
        // unparsable query string is the visitor's mistake, shown as such.
        let form: SearchForm = serde_urlencoded::from_str(raw.as_deref().unwrap_or(""))
            .map_err(|_| AppError::invalid(&[crate::domain::Invalid::new("query", "is not a valid query string")]))?;
        let page: usize = match form.page.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
            None => 1,
            Some(p) => p
                .parse()
                .ok()
                .filter(|p| (1..=search::MAX_OFFSET / PER_PAGE + 1).contains(p))
                .ok_or_else(|| AppError::invalid(&[crate::domain::Invalid::new("page", "is not a page of these results")]))?,
        };
        let q = form.q.clone().unwrap_or_default();
        let filters = [
            ("kind", &form.kind),
            ("tag", &form.tag),
            ("lecturer", &form.lecturer),
            ("series", &form.series),
            ("region", &form.region),
            ("from", &form.from),
            ("to", &form.to),
        ];
        let any = !q.trim().is_empty()
            || filters.iter().any(|(_, v)| v.as_deref().is_some_and(|v| !v.trim().is_empty()));
        // The URL of these results with one parameter changed (`None` removes it) and the page reset.
        let base: Vec<(&str, String)> = std::iter::once(("q", q.clone()))
            .chain(filters.iter().filter_map(|(k, v)| v.as_ref().map(|v| (*k, v.clone()))))
            .chain(form.sort.clone().map(|s| ("sort", s)))
            .filter(|(_, v)| !v.trim().is_empty())
            .collect();
        let with_all = |changes: &[(&str, Option<&str>)]| -> String {
            let mut pairs: Vec<(&str, String)> = base
                .iter()
                .filter(|(k, _)| changes.iter().all(|(c, _)| c != k))
                .cloned()
                .collect();
            for (k, v) in changes {
                if let Some(v) = v {
                    pairs.push((k, (*v).to_owned()));
                }
            }
            let qs = serde_urlencoded::to_string(&pairs).unwrap_or_default();
            if qs.is_empty() { "/search".to_owned() } else { format!("/search?{qs}") }
        };
        let with = |key: &str, value: Option<&str>| with_all(&[(key, value)]);
        if !any {
            return library_page(
                &web,
                "library/search.html",
                context! { q, searched => false },
            );
        }
        let params = search::Params {
            q: form.q.clone(),
            kind: form.kind.clone(),
            tag: form.tag.clone(),
            lecturer: form.lecturer.clone(),
            series: form.series.clone(),
            region: form.region.clone(),
            from: form.from.clone(),
            to: form.to.clone(),
            sort: form.sort.clone(),
            limit: Some(PER_PAGE),
            offset: Some((page - 1) * PER_PAGE),
            fallback: true,
        };
        let found = search::search(
            &web.state.db,
            &web.state.search,
            &web.caller,
            Shelf::Library,
            &params,
        )
        .await?;
        let hit_view = |h: &search::Hit| {
                let l = &h.lesson;
                let href = format!("/learn/{}", l.id);
                let cues: Vec<Value> = h
                    .cues
                    .iter()
                    .map(|c| {
                        let second = c.start_ms / 1000;
                        context! {
                            at => clock(c.start_ms),
                            href => format!("{href}?t={second}#t={second}"),
                            // Escaped by the index, with the matches in `<mark>`.
                            text => Value::from_safe_string(c.text.clone()),
                            machine => c.machine_transcript,
                        }
                    })
                    .collect();
                let pages: Vec<Value> = h
                    .pages
                    .iter()
                    .map(|p| {
                        let n = p.page.unwrap_or(1);
                        context! {
                            page => p.page,
                            href => format!("{href}?page={n}#page-{n}"),
                            text => Value::from_safe_string(p.text.clone()),
                        }
                    })
                    .collect();
                context! {
                    href,
                    title_marked => Value::from_safe_string(h.title_marked.clone()),
                    description_marked => Value::from_safe_string(h.description_marked.clone()),
                    kind_key => kind_key(l.kind),
                    lecturer => l.lecturer,
                    lecturer_href => l.lecturer.as_deref().map(|n| format!("/lecturers/{}", enc(n))),
                    series => l.series,
                    series_href => l.series.as_deref().map(|n| format!("/series/{}", enc(n))),
                    region => l.region_code.as_deref().and_then(crate::domain::region::name),
                    date => lesson_date(l),
                    tags => l.tags,
                    cues, pages,
                }
        };
        let hits: Vec<Value> = found.hits.iter().map(hit_view).collect();
        let partial: Vec<Value> = found.partial.iter().map(hit_view).collect();
        let facet = |key: &'static str, values: &[(String, u64)], label: &dyn Fn(&str) -> String| -> Vec<Value> {
            values
                .iter()
                .take(12)
                .map(|(v, n)| {
                    let chosen = base.iter().any(|(k, x)| *k == key && x == v);
                    context! {
                        label => label(v),
                        count => n,
                        chosen,
                        href => if chosen { with(key, None) } else { with(key, Some(v)) },
                    }
                })
                .collect()
        };
        let lang = web.lang;
        let kind_label = |v: &str| super::i18n::translate(lang, &format!("kind.{v}")).to_owned();
        let same = |v: &str| v.to_owned();
        let region_label = |v: &str| crate::domain::region::name(v).unwrap_or(v).to_owned();
        let facets = context! {
            kind => facet("kind", &found.facets.kind, &kind_label),
            tag => facet("tag", &found.facets.tag, &same),
            series => facet("series", &found.facets.series, &same),
            // A year is a date range: from its first day to its last.
            year => found.facets.year.iter().take(12).map(|(y, n)| {
                let (from, to) = (format!("{y}-01-01"), format!("{y}-12-31"));
                let chosen = form.from.as_deref() == Some(from.as_str())
                    && form.to.as_deref() == Some(to.as_str());
                context! {
                    label => y,
                    count => n,
                    chosen,
                    href => if chosen {
                        with_all(&[("from", None), ("to", None)])
                    } else {
                        with_all(&[("from", Some(&from)), ("to", Some(&to))])
                    },
                }
            }).collect::<Vec<_>>(),
            region => facet("region", &found.facets.region, &region_label),
        };
        // Filters in force, each with the link that removes it.
        let chosen: Vec<Value> = filters
            .iter()
            .filter_map(|(k, v)| {
                let v = v.as_deref().map(str::trim).filter(|v| !v.is_empty())?;
                let shown = match *k {
                    "kind" => kind_label(v),
                    "region" => region_label(v),
                    _ => v.to_owned(),
                };
                Some(context! { key => k, value => shown, remove => with(k, None) })
            })
            .collect();
        let pages = found.total.div_ceil(PER_PAGE).min(search::MAX_OFFSET / PER_PAGE + 1);
        let page_href = |p: usize| {
            let mut u = with("page", None);
            if p > 1 {
                u.push_str(if u.contains('?') { "&" } else { "?" });
                u.push_str(&format!("page={p}"));
            }
            u
        };
        let newest = form.sort.as_deref() == Some("newest");
        // Nothing found: say so, and offer what might help.
        let (suggestions, popular) = if found.total == 0 && found.partial.is_empty() {
            let typed = search::suggest(&web.state.search, &web.caller, Some(q.as_str()), Some(5))
                .await
                .unwrap_or_default();
            let suggestions: Vec<Value> = typed
                .into_iter()
                .map(|s| context! { text => s.text, href => with("q", Some(&s.text)) })
                .collect();
            let front = search::browse(&web.state.db, &web.state.search, &web.caller, Shelf::Library, 1).await?;
            let popular: Vec<Value> = front
                .facets
                .series
                .iter()
                .take(6)
                .map(|(s, n)| context! { name => s, href => format!("/series/{}", enc(s)), count => n })
                .collect();
            (suggestions, popular)
        } else {
            (Vec::new(), Vec::new())
        };
        library_page(
            &web,
            "library/search.html",
            context! {
                q, searched => true, hits, partial, facets, chosen,
                total => found.total,
                page, pages,
                previous => (page > 1).then(|| page_href(page - 1)),
                next => (page < pages).then(|| page_href(page + 1)),
                relevance_href => with("sort", None),
                newest_href => with("sort", Some("newest")),
                newest,
                suggestions, popular,
                corrected => found.corrected.as_deref().map(|c| context! { text => c, href => with("q", Some(c)) }),
                hidden => base.iter().filter(|(k, _)| *k != "q").map(|(k, v)| context! { name => k, value => v }).collect::<Vec<_>>(),
            },
        )
    }
    .await;
    web.respond(r)
}

#[derive(Debug, Deserialize)]
pub struct LessonQuery {
    /// The document page to show the pages around.
    page: Option<String>,
    /// The second to start playing at (read by the page's script too).
    #[allow(dead_code)]
    t: Option<String>,
    #[allow(dead_code)]
    lang: Option<String>,
}

/// `/learn/{id}`: the player (HLS where made, else the file), the transcript, the documents.
pub async fn lesson(web: Web, Path(id): Path<String>, Query(q): Query<LessonQuery>) -> Response {
    let r = async {
        let page = q.page.as_deref().and_then(|p| p.trim().parse::<i64>().ok()).filter(|p| (1..=100_000).contains(p));
        let v = library::lesson(&web.state.db, &web.caller, &id, page).await?;
        let l = &v.lesson;
        let media = v.media.as_ref().map(|m| {
            let has = |k: RenditionKind| v.renditions.contains(&k);
            let file = |k: RenditionKind| format!("/api/v1/assets/{}/media/{}/file", m.id, k.as_str());
            // Without the ladder: the small MP4, else the 64k audio, else the file itself.
            let progressive = if has(RenditionKind::Mp4Small) {
                file(RenditionKind::Mp4Small)
            } else if m.content_type.starts_with("audio/") && has(RenditionKind::Audio64k) {
                file(RenditionKind::Audio64k)
            } else {
                format!("/api/v1/assets/{}/content", m.id)
            };
            context! {
                id => m.id,
                audio => m.content_type.starts_with("audio/"),
                hls => v.hls.then(|| format!("/api/v1/assets/{}/media/hls/master.m3u8", m.id)),
                progressive,
                poster => v.poster.then(|| file(RenditionKind::PosterLarge)),
                thumbnails => has(RenditionKind::Sprite).then(|| format!("/api/v1/assets/{}/media/thumbnails.vtt", m.id)),
                duration => v.duration_ms.map(clock),
            }
        });
        let subtitles: Vec<Value> = v
            .subtitles
            .iter()
            .map(|s| {
                context! {
                    language => s.language,
                    label => crate::services::subtitles::label(s),
                    src => format!("/api/v1/lessons/{}/subtitles/{}.vtt", l.id, s.language),
                }
            })
            .collect();
        let documents: Vec<Value> = v
            .documents
            .iter()
            .map(|d| {
                let first = d.pages.first().map_or(1, |p| p.number);
                let last = d.pages.last().map_or(0, |p| p.number);
                let window = |n: i64| format!("/learn/{}?page={n}#page-{n}", l.id);
                context! {
                    id => d.asset.id,
                    filename => d.asset.filename,
                    size => d.asset.size,
                    download => format!("/api/v1/assets/{}/content", d.asset.id),
                    page_count => d.page_count,
                    pages => d.pages.iter().map(|p| context! {
                        number => p.number,
                        image => p.image.then(|| format!(
                            "/api/v1/assets/{}/media/{}/file",
                            d.asset.id,
                            RenditionKind::page(p.number as usize).map_or("page_1", RenditionKind::as_str)
                        )),
                        text => p.text,
                    }).collect::<Vec<_>>(),
                    earlier => (first > 1).then(|| window(first - 1)),
                    later => (last < d.page_count).then(|| window(last + 1)),
                }
            })
            .collect();
        let downloads: Vec<Value> = v
            .downloads
            .iter()
            .map(|a| context! { filename => a.filename, size => a.size, href => format!("/api/v1/assets/{}/content", a.id) })
            .collect();
        let neighbour = |n: &Option<crate::db::lessons::LessonRecord>| {
            n.as_ref().map(|n| context! { title => n.title, href => format!("/learn/{}", n.id) })
        };
        let staff = crate::domain::visibility::may(&web.caller, crate::domain::visibility::Action::Edit, l.access());
        // A signed-in account keeps its place: the player reports it, and starts there.
        let learner = crate::domain::visibility::learner(&web.caller).is_some();
        let resume = library::resume_at(&web.state.db, &web.caller, &l.id).await?;
        library_page(
            &web,
            "library/lesson.html",
            context! {
                id => l.id,
                title => l.title,
                description => l.description,
                kind_key => kind_key(l.kind),
                lecturer => l.lecturer,
                lecturer_href => l.lecturer.as_deref().map(|n| format!("/lecturers/{}", enc(n))),
                series => l.series,
                series_href => l.series.as_deref().map(|n| format!("/series/{}", enc(n))),
                podcast => l.series.as_deref().filter(|_| l.kind == LessonKind::Audio).map(|n| {
                    format!("/feeds/series/{}.rss", crate::domain::platform::series_id(n))
                }),
                region => l.region_code.as_deref().and_then(crate::domain::region::name),
                region_href => l.region_code.as_deref().map(|c| format!("/search?region={c}")),
                date => lesson_date(l),
                tags => l.tags.iter().map(|t| context! { name => t, href => format!("/search?tag={}", enc(t)) }).collect::<Vec<_>>(),
                preview => v.preview,
                manage => staff.then(|| format!("/lessons/{}", l.id)),
                track => (learner && v.media.is_some()).then(|| format!("/api/v1/me/positions/{}", l.id)),
                // A document lesson is learned by reading its (first) document's pages.
                reading => (learner && l.kind == LessonKind::Document).then(|| format!("/api/v1/me/reading/{}", l.id)),
                resume => resume.map(|ms| ms / 1000),
                media, subtitles, documents, downloads,
                previous => neighbour(&v.previous),
                next => neighbour(&v.next),
                episode => v.episode.map(|(n, of)| context! { n, of }),
            },
        )
    }
    .await;
    web.respond(r)
}

/// `/series/{name}`: its episodes in order, and its podcast feed when it has audio.
pub async fn series(web: Web, Path(name): Path<String>) -> Response {
    let r = async {
        let s = library::series(&web.state.db, &web.caller, &name).await?;
        library_page(
            &web,
            "library/shelf.html",
            context! {
                what => "series",
                name => s.name,
                cards => cards_view(&s.cards),
                more => s.more,
                podcast => s.podcast,
                numbered => true,
            },
        )
    }
    .await;
    web.respond(r)
}

/// `/lecturers/{name}`: the lecturer's lessons, newest first.
pub async fn lecturer(web: Web, Path(name): Path<String>) -> Response {
    let r = async {
        let s = library::lecturer(&web.state.db, &web.caller, &name)
            .await
            .map_err(|e| match e {
                crate::services::ServiceError::NotFound(_) => {
                    Flow::Error(AppError::not_found("lecturer"))
                }
                e => Flow::from(e),
            })?;
        library_page(
            &web,
            "library/shelf.html",
            context! {
                what => "lecturer",
                name => s.name,
                cards => cards_view(&s.cards),
                more => s.more,
                numbered => false,
            },
        )
    }
    .await;
    web.respond(r)
}

/// Time spent, as people read it: `1小时5分钟` / `1 h 5 min` (minutes rounded up: a minute
/// started counts).
fn time_spent(lang: Lang, ms: i64) -> String {
    let minutes = (ms.max(0) + 59_999) / 60_000;
    let (h, m) = (minutes / 60, minutes % 60);
    match (lang, h) {
        (Lang::Zh, 0) => format!("{m}分钟"),
        (Lang::Zh, _) => format!("{h}小时{m}分钟"),
        (Lang::En, 0) => format!("{m} min"),
        (Lang::En, _) => format!("{h} h {m} min"),
    }
}

/// `/me/learning`: the signed-in member's learning archive (我的学习档案), by quarter and by
/// lesson, printable, with its CSV.
pub async fn learning(web: Web) -> Response {
    let r = async {
        web.signed_in()?;
        let a = crate::services::learning::archive(&web.state.db, &web.caller).await?;
        let lang = web.lang;
        let source = |s: &str| {
            let id = format!("learning.source.{s}");
            let t = super::i18n::translate(lang, &id);
            if t == id { s.to_owned() } else { t }
        };
        let quarters: Vec<Value> = a
            .quarters
            .iter()
            .map(|q| {
                context! {
                    name => match lang {
                        Lang::Zh => format!("{}年第{}季度", q.year, q.quarter),
                        Lang::En => format!("{} Q{}", q.year, q.quarter),
                    },
                    time => time_spent(lang, q.time_ms),
                    lessons => q.lessons,
                    completed => q.completed,
                }
            })
            .collect();
        let lessons: Vec<Value> = a
            .lessons
            .iter()
            .map(|l| {
                context! {
                    id => l.lesson_id,
                    title => l.title,
                    source => l.source_name.clone().unwrap_or_else(|| source(&l.source)),
                    time => time_spent(lang, l.time_ms),
                    covered => l.covered_percent,
                    completed => l.completed_at.map(day),
                }
            })
            .collect();
        library_page(
            &web,
            "library/learning.html",
            context! {
                time => time_spent(lang, a.time_ms),
                completed => a.completed,
                quarters,
                lessons,
                required => a.required.iter().map(|r| context! {
                    href => format!("/series/{}", enc(&r.series)),
                    series => r.series,
                    org_name => r.org_name,
                    lessons => r.lessons,
                    completed => r.completed,
                    done => r.done(),
                }).collect::<Vec<_>>(),
            },
        )
    }
    .await;
    web.respond(r)
}
