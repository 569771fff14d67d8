//! `/admin/reports?org=&quarter=` (or `&from=&to=`, a run of days): an organisation's learning
//! report for its administrators — the figures, bar charts drawn on the server (SVG, no script), the members
//! who learned nothing, the trend, and links to the CSV and XLSX files of the API.

use super::Web;
use super::i18n::Lang;
use crate::domain::report::{Figures, Quarter};
use crate::domain::visibility;
use crate::http::extract::Writer;
use crate::services::reports::{self, IDLE_SHOWN, Line};
use axum::response::Response;
use minijinja::Value;
use minijinja::context;

/// The query of the page.
#[derive(Debug, Default, serde::Deserialize)]
pub struct ReportQuery {
    #[serde(default)]
    pub org: String,
    #[serde(default)]
    pub quarter: String,
    /// A run of days instead of a quarter: the first and last day, `YYYY-MM-DD`.
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
}

/// The widest bar of a chart, in SVG units.
const BAR: f64 = 300.0;

fn figures(f: &Figures) -> Value {
    context! {
        members => f.members,
        active => f.active,
        active_percent => f.active_percent(),
        completed => f.completed,
        hours => format!("{:.1}", f.hours()),
    }
}

fn line(l: &Line) -> Value {
    context! { id => l.id, name => l.name, f => figures(&l.figures) }
}

/// A quarter as the page's language writes it.
fn quarter_label(lang: Lang, q: Quarter) -> String {
    match lang {
        Lang::Zh => q.label_zh(),
        Lang::En => q.label_en(),
    }
}

/// The report's own labels in the page's language: the organisation's own line ("（本级）") and
/// Lectern's library as a channel are named by the service in Chinese, as the CSV and XLSX
/// files (for Chinese offices) keep them.
fn localised(lang: Lang, report: &mut reports::Report) {
    if lang == Lang::Zh {
        return;
    }
    let own = report.org.id.clone();
    for b in &mut report.branches {
        if b.id == own {
            b.name = format!("{} (own members)", report.org.name);
        }
    }
    for c in &mut report.channels {
        if c.id == crate::db::learning::LIBRARY {
            c.name = "Library (Lectern)".to_owned();
        }
    }
}

/// Bars of `values` (label, value, shown text) scaled to `full` (a share: 100), else to the
/// largest value.
fn bars(values: Vec<(String, f64, String)>, full: Option<f64>) -> Vec<Value> {
    let max = full.unwrap_or_else(|| values.iter().map(|v| v.1).fold(0.0_f64, f64::max));
    values
        .into_iter()
        .enumerate()
        .map(|(i, (label, v, text))| {
            let width = if max > 0.0 { v / max * BAR } else { 0.0 };
            // What fits beside the bars (about twelve characters).
            let label = if label.chars().count() > 12 {
                format!("{}…", label.chars().take(11).collect::<String>())
            } else {
                label
            };
            context! { label => label, text => text, y => i * 28, width => format!("{width:.1}") }
        })
        .collect()
}

pub async fn page(
    web: Web,
    axum::extract::Query(query): axum::extract::Query<ReportQuery>,
) -> Response {
    let r = async {
        let Writer(acting) = web.reader()?;
        if !visibility::admin_links(&web.caller).reports {
            return Err(super::Flow::Error(crate::http::error::AppError::forbidden(
                super::i18n::translate(web.lang, "error.staff_only"),
            )));
        }
        let orgs: Vec<_> = crate::services::orgs::list(&web.state.db, &acting)
            .await?
            .into_iter()
            .filter(|o| visibility::may_administer(&web.caller, &o.path))
            .collect();
        let current = Quarter::of_ms(crate::db::now_ms());
        let org_id = if query.org.is_empty() {
            orgs.first().map(|o| o.id.clone()).unwrap_or_default()
        } else {
            query.org.clone()
        };
        let quarter = if !query.from.is_empty() || !query.to.is_empty() {
            format!("{}--{}", query.from, query.to)
        } else if query.quarter.is_empty() {
            current.to_string()
        } else {
            query.quarter.clone()
        };
        let mut quarters = vec![current];
        for _ in 0..7 {
            let before = quarters[quarters.len() - 1].previous();
            quarters.push(before);
        }
        let choices: Vec<Value> = quarters
            .iter()
            .map(|q| context! { value => q.to_string(), label => quarter_label(web.lang, *q) })
            .collect();
        let org_choices: Vec<Value> = orgs
            .iter()
            .map(|o| {
                let depth = crate::domain::org::ids(&o.path).len().saturating_sub(1);
                context! { id => o.id, name => format!("{}{}", "　".repeat(depth), o.name) }
            })
            .collect();
        if org_id.is_empty() {
            return web.page(
                "reports.html",
                context! { orgs => org_choices, quarters => choices, quarter => quarter },
            );
        }
        let mut report =
            reports::report(&web.state.db, &acting, &org_id, &quarter, IDLE_SHOWN).await?;
        localised(web.lang, &mut report);
        let branch_bars = bars(
            report
                .branches
                .iter()
                .map(|b| {
                    let p = b.figures.active_percent();
                    (b.name.clone(), p as f64, format!("{p}%"))
                })
                .collect(),
            Some(100.0),
        );
        let trend_bars = bars(
            report
                .trend
                .iter()
                .map(|(q, f)| {
                    (
                        quarter_label(web.lang, *q),
                        f.hours(),
                        format!("{:.1}", f.hours()),
                    )
                })
                .collect(),
            None,
        );
        let api = format!("/api/v1/orgs/{}/reports/{}", report.org.id, report.period);
        let (first_day, last_day) = report.period.days();
        let ctx = context! {
            orgs => org_choices,
            quarters => choices,
            org_id => report.org.id,
            org_name => report.org.name,
            quarter => report.period.quarter().map(|q| q.to_string()).unwrap_or_default(),
            days => report.period.quarter().is_none(),
            first_day => first_day,
            last_day => last_day,
            label => match web.lang {
                Lang::Zh => report.period.label_zh(),
                Lang::En => report.period.label_en(),
            },
            computed_at => crate::domain::time::china_time(report.computed_at),
            final_ => report.final_,
            total => figures(&report.total),
            branches => report.branches.iter().map(line).collect::<Vec<_>>(),
            channels => report.channels.iter().map(line).collect::<Vec<_>>(),
            series => report.series.iter().map(line).collect::<Vec<_>>(),
            idle => report.idle.iter().map(|m| context! {
                login => m.login, name => m.display_name, org => m.org_name,
            }).collect::<Vec<_>>(),
            idle_total => report.idle_total,
            rules => report.rules.iter().map(|r| context! {
                series => r.series, org_name => r.org_name, lessons => r.lessons,
                done => r.done, missing => r.missing,
            }).collect::<Vec<_>>(),
            branch_bars => branch_bars,
            branch_height => report.branches.len() * 28,
            trend_bars => trend_bars,
            trend_height => report.trend.len() * 28,
            csv => format!("{api}/report.csv"),
            xlsx => format!("{api}/report.xlsx"),
        };
        web.page("reports.html", ctx)
    }
    .await;
    web.respond(r)
}
