//! `GET /api/v1/orgs/{id}/reports/{period}`: an organisation's learning report for a quarter
//! or any run of days, and `…/{period}/report.csv` and `…/report.xlsx`, the same to be taken
//! away (the export in the audit log). Adapters over `services::reports`; the files are also what the report page links.

use crate::domain::report::Figures;
use crate::http::AppState;
use crate::http::error::{AppError, Problem};
use crate::http::extract::{Path, Writer};
use crate::services::reports::{self, IDLE_SHOWN, Line, Report};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// The figures of a part of a report.
#[derive(Debug, Serialize, ToSchema)]
pub struct FiguresView {
    /// Members (for a channel or a series: those who learned there).
    pub members: i64,
    /// Members who learned anything in the period.
    pub active: i64,
    /// `active` as a share of `members`, whole percent.
    pub active_percent: i64,
    /// Lessons completed in the period.
    pub completed: i64,
    /// Time spent learning, milliseconds.
    pub time_ms: i64,
    /// The same in hours, to one decimal.
    pub hours: f64,
}

impl From<&Figures> for FiguresView {
    fn from(f: &Figures) -> Self {
        Self {
            members: f.members,
            active: f.active,
            active_percent: f.active_percent(),
            completed: f.completed,
            time_ms: f.time_ms,
            hours: f.hours(),
        }
    }
}

/// A branch, channel or series of a report, with its figures (those of [`FiguresView`]).
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportLineView {
    /// The organisation's id, the channel (`library` or a platform's id), or the series.
    pub id: String,
    pub name: String,
    pub members: i64,
    pub active: i64,
    pub active_percent: i64,
    pub completed: i64,
    pub time_ms: i64,
    pub hours: f64,
}

impl From<&Line> for ReportLineView {
    fn from(l: &Line) -> Self {
        let f = FiguresView::from(&l.figures);
        Self {
            id: l.id.clone(),
            name: l.name.clone(),
            members: f.members,
            active: f.active,
            active_percent: f.active_percent,
            completed: f.completed,
            time_ms: f.time_ms,
            hours: f.hours,
        }
    }
}

/// A member who learned nothing in the period.
#[derive(Debug, Serialize, ToSchema)]
pub struct IdleMemberView {
    pub login: String,
    pub display_name: String,
    pub org_name: String,
}

/// A completion rule in a report.
#[derive(Debug, Serialize, ToSchema)]
pub struct RuleLineView {
    pub series: String,
    /// The organisation that set it (this one or one above).
    pub org_name: String,
    /// Published lessons of the series.
    pub lessons: i64,
    /// Members who completed every one of them.
    pub done: i64,
    /// Members who did not (yet).
    pub missing: i64,
}

/// A completion rule: every member of the organisation's subtree must complete every published
/// lesson of the series.
#[derive(Debug, Serialize, ToSchema)]
pub struct RuleView {
    pub id: String,
    pub org_id: String,
    pub org_name: String,
    pub series: String,
    #[schema(format = DateTime)]
    pub created_at: String,
}

/// The completion rules that hold for an organisation (its own and those from above).
#[derive(Debug, Serialize, ToSchema)]
pub struct RuleList {
    pub items: Vec<RuleView>,
}

/// A new completion rule.
#[derive(Debug, serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRule {
    /// The series (as lessons name it) every member must complete.
    pub series: String,
}

fn rule_view(r: crate::db::rules::RuleRecord) -> RuleView {
    RuleView {
        id: r.id,
        org_id: r.org_id,
        org_name: r.org_name,
        series: r.series,
        created_at: crate::domain::time::rfc3339(r.created_at),
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/orgs/{id}/completion-rules",
    tag = "orgs",
    summary = "The completion rules that hold for an organisation's members: its own and those set above it",
    params(("id" = String, Path, description = "the organisation")),
    security(("bearer" = [])),
    responses((status = 200, description = "the rules", body = RuleList))
)]
pub async fn list_rules(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Path(id): Path<String>,
) -> Result<axum::Json<RuleList>, AppError> {
    let rules = reports::rules(&state.db, &acting, &id).await?;
    Ok(axum::Json(RuleList {
        items: rules.into_iter().map(rule_view).collect(),
    }))
}

#[utoipa::path(
    post,
    path = "/api/v1/orgs/{id}/completion-rules",
    tag = "orgs",
    summary = "Require every member of the organisation's subtree to complete every published lesson of a series (administrators; audited as completion_rule.create); shown as done or missing in each member's archive and in the reports",
    params(("id" = String, Path, description = "the organisation")),
    request_body = CreateRule,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "the rule", body = RuleView),
        (status = 409, description = "the organisation already requires the series", body = Problem, content_type = "application/problem+json")
    )
)]
pub async fn create_rule(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Path(id): Path<String>,
    crate::http::extract::Json(input): crate::http::extract::Json<CreateRule>,
) -> Result<(axum::http::StatusCode, axum::Json<RuleView>), AppError> {
    let rule = reports::add_rule(&state.db, &acting, &id, &input.series).await?;
    Ok((axum::http::StatusCode::CREATED, axum::Json(rule_view(rule))))
}

#[utoipa::path(
    delete,
    path = "/api/v1/orgs/{id}/completion-rules/{rule_id}",
    tag = "orgs",
    summary = "Remove one of the organisation's completion rules (administrators; audited as completion_rule.delete)",
    params(
        ("id" = String, Path, description = "the organisation"),
        ("rule_id" = String, Path, description = "the rule")
    ),
    security(("bearer" = [])),
    responses((status = 204, description = "removed"))
)]
pub async fn delete_rule(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Path((id, rule_id)): Path<(String, String)>,
) -> Result<axum::http::StatusCode, AppError> {
    reports::remove_rule(&state.db, &acting, &id, &rule_id).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

/// One quarter of the trend: its quarter and its figures (all channels).
#[derive(Debug, Serialize, ToSchema)]
pub struct TrendView {
    /// `2026-Q2`.
    pub quarter: String,
    pub figures: FiguresView,
}

/// An organisation's learning report for a quarter or a run of days (its whole subtree).
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportView {
    pub org_id: String,
    pub org_name: String,
    /// What the report covers: `2026-Q2`, or `2026-01-01--2026-03-15`.
    pub period: String,
    /// The quarter, `2026-Q2`, when the report is one (else null).
    pub quarter: Option<String>,
    /// The first and last day covered, `YYYY-MM-DD` (China time).
    pub first_day: String,
    pub last_day: String,
    /// When the summary was computed (the job runner refreshes the current quarter every ten
    /// minutes).
    #[schema(format = DateTime)]
    pub computed_at: String,
    /// Whether the period had ended when it was computed: the report is kept as it is.
    pub r#final: bool,
    pub total: FiguresView,
    /// The organisation's own members first, then each child organisation's subtree.
    pub branches: Vec<ReportLineView>,
    pub channels: Vec<ReportLineView>,
    pub series: Vec<ReportLineView>,
    /// The first 200 members who learned nothing (the exports list all).
    pub idle: Vec<IdleMemberView>,
    pub idle_total: i64,
    /// The completion rules that hold for the organisation, as they stand now.
    pub rules: Vec<RuleLineView>,
    /// The quarters before, oldest first, then this one (empty for a run of days).
    pub trend: Vec<TrendView>,
}

impl From<&Report> for ReportView {
    fn from(r: &Report) -> Self {
        Self {
            org_id: r.org.id.clone(),
            org_name: r.org.name.clone(),
            period: r.period.to_string(),
            quarter: r.period.quarter().map(|q| q.to_string()),
            first_day: r.period.days().0,
            last_day: r.period.days().1,
            computed_at: crate::domain::time::rfc3339(r.computed_at),
            r#final: r.final_,
            total: (&r.total).into(),
            branches: r.branches.iter().map(Into::into).collect(),
            channels: r.channels.iter().map(Into::into).collect(),
            series: r.series.iter().map(Into::into).collect(),
            idle: r
                .idle
                .iter()
                .map(|m| IdleMemberView {
                    login: m.login.clone(),
                    display_name: m.display_name.clone(),
                    org_name: m.org_name.clone(),
                })
                .collect(),
            idle_total: r.idle_total,
            rules: r
                .rules
                .iter()
                .map(|l| RuleLineView {
                    series: l.series.clone(),
                    org_name: l.org_name.clone(),
                    lessons: l.lessons,
                    done: l.done,
                    missing: l.missing,
                })
                .collect(),
            trend: r
                .trend
                .iter()
                .map(|(q, f)| TrendView {
                    quarter: q.to_string(),
                    figures: f.into(),
                })
                .collect(),
        }
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/orgs/{id}/reports/{period}",
    tag = "orgs",
    summary = "An organisation's learning report for a quarter (2026-Q2) or any run of days up to 366 (2026-01-01--2026-03-15, China time), for its administrators: members, active members, lessons completed and hours — in all, per branch, per channel and per series —, the members who learned nothing, and, for a quarter, the trend over the four quarters before",
    params(
        ("id" = String, Path, description = "the organisation"),
        ("period" = String, Path, description = "a quarter, 2026-Q2, or first and last day, 2026-01-01--2026-03-15")
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "the report", body = ReportView),
        (status = 400, description = "not a quarter or a run of days, more than 366 days, or a period that has not begun", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not an administrator of the organisation", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such organisation the caller works in", body = Problem, content_type = "application/problem+json")
    )
)]
pub async fn get_report(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Path((id, period)): Path<(String, String)>,
) -> Result<axum::Json<ReportView>, AppError> {
    let report = reports::report(&state.db, &acting, &id, &period, IDLE_SHOWN).await?;
    Ok(axum::Json((&report).into()))
}

#[utoipa::path(
    get,
    path = "/api/v1/orgs/{id}/reports/{period}/{file}",
    tag = "orgs",
    summary = "The report as report.csv (UTF-8 with a byte-order mark) or report.xlsx (sheets 汇总, 未学习成员, 趋势), every member who learned nothing listed; the export is recorded in the audit log",
    params(
        ("id" = String, Path, description = "the organisation"),
        ("period" = String, Path, description = "a quarter, 2026-Q2, or first and last day, 2026-01-01--2026-03-15"),
        ("file" = String, Path, description = "report.csv or report.xlsx")
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "the file", content_type = "text/csv"),
        (status = 403, description = "not an administrator of the organisation", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such organisation, or a file other than report.csv and report.xlsx", body = Problem, content_type = "application/problem+json")
    )
)]
pub async fn get_report_file(
    State(state): State<AppState>,
    Writer(acting): Writer,
    Path((id, period, file)): Path<(String, String, String)>,
) -> Result<Response, AppError> {
    let format = match file.as_str() {
        "report.csv" => "csv",
        "report.xlsx" => "xlsx",
        _ => return Err(AppError::not_found("file")),
    };
    let report = reports::export(&state.db, &acting, &id, &period, format).await?;
    let name = format!("report-{}.{format}", report.period);
    let disposition = format!("attachment; filename=\"{name}\"");
    let (content_type, body) = if format == "csv" {
        (
            "text/csv; charset=utf-8",
            csv(&report).map_err(|e| AppError::internal(&e))?,
        )
    } else {
        (
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            xlsx(&report).map_err(|e| AppError::internal(&e))?,
        )
    };
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response())
}

/// The header of the figure tables, in the order [`row`] writes them.
const HEADER: [&str; 8] = [
    "部分",
    "编号",
    "名称",
    "成员",
    "参学人数",
    "参学率（%）",
    "完成课程",
    "学时（小时）",
];

fn row(part: &str, id: &str, name: &str, f: &Figures) -> [String; 8] {
    [
        part.to_owned(),
        id.to_owned(),
        name.to_owned(),
        f.members.to_string(),
        f.active.to_string(),
        f.active_percent().to_string(),
        f.completed.to_string(),
        format!("{:.1}", f.hours()),
    ]
}

/// Every figure line of a report: the total, branches, channels, series.
fn lines(r: &Report) -> Vec<[String; 8]> {
    let mut out = vec![row("合计", &r.org.id, &r.org.name, &r.total)];
    for (part, list) in [
        ("单位", &r.branches),
        ("渠道", &r.channels),
        ("系列", &r.series),
    ] {
        out.extend(list.iter().map(|l| row(part, &l.id, &l.name, &l.figures)));
    }
    out
}

/// The report as CSV: a byte-order mark, the figures, then the members who learned nothing.
fn csv(r: &Report) -> Result<Vec<u8>, csv::Error> {
    // Sections of different widths: the title, the figures, the members.
    let mut w = csv::WriterBuilder::new()
        .flexible(true)
        .from_writer(b"\xEF\xBB\xBF".to_vec());
    w.write_record([format!("{} {}", r.org.name, r.period.label_zh())])?;
    w.write_record(HEADER)?;
    for l in lines(r) {
        w.write_record(&l)?;
    }
    for rule in &r.rules {
        w.write_record([
            "必修系列".to_owned(),
            rule.series.clone(),
            rule.org_name.clone(),
            format!("共{}课", rule.lessons),
            format!("完成{}人", rule.done),
            format!("未完成{}人", rule.missing),
        ])?;
    }
    w.write_record(["未学习成员", "账号", "姓名", "单位"])?;
    for m in &r.idle {
        w.write_record(["", &m.login, &m.display_name, &m.org_name])?;
    }
    w.into_inner().map_err(|e| e.into_error().into())
}

/// The report as an XLSX workbook: 汇总 (the figures, numbers as numbers), 未学习成员, 趋势.
fn xlsx(r: &Report) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    use rust_xlsxwriter::{Format, Workbook};
    let mut book = Workbook::new();
    let bold = Format::new().set_bold();
    let sheet = book.add_worksheet();
    sheet.set_name("汇总")?;
    sheet.write_string_with_format(
        0,
        0,
        format!("{} {}", r.org.name, r.period.label_zh()),
        &bold,
    )?;
    for (c, h) in HEADER.iter().enumerate() {
        sheet.write_string_with_format(1, c as u16, *h, &bold)?;
    }
    for (i, l) in lines(r).iter().enumerate() {
        let at = i as u32 + 2;
        for (c, cell) in l.iter().enumerate() {
            match (c, cell.parse::<f64>()) {
                (3.., Ok(n)) => sheet.write_number(at, c as u16, n)?,
                _ => sheet.write_string(at, c as u16, cell)?,
            };
        }
    }
    sheet.set_column_width(2, 24)?;
    let idle = book.add_worksheet();
    idle.set_name("未学习成员")?;
    for (c, h) in ["账号", "姓名", "单位"].iter().enumerate() {
        idle.write_string_with_format(0, c as u16, *h, &bold)?;
    }
    for (i, m) in r.idle.iter().enumerate() {
        let at = i as u32 + 1;
        idle.write_string(at, 0, &m.login)?;
        idle.write_string(at, 1, &m.display_name)?;
        idle.write_string(at, 2, &m.org_name)?;
    }
    let trend = book.add_worksheet();
    trend.set_name("趋势")?;
    for (c, h) in ["季度", "参学人数", "完成课程", "学时（小时）"]
        .iter()
        .enumerate()
    {
        trend.write_string_with_format(0, c as u16, *h, &bold)?;
    }
    for (i, (q, f)) in r.trend.iter().enumerate() {
        let at = i as u32 + 1;
        trend.write_string(at, 0, q.to_string())?;
        trend.write_number(at, 1, f.active as f64)?;
        trend.write_number(at, 2, f.completed as f64)?;
        trend.write_number(at, 3, f.hours())?;
    }
    book.save_to_buffer()
}
