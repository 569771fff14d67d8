//! `/api/openapi.json`: the OpenAPI 3.1 document of the HTTP API, derived from the code.
//!
//! Every operation is a `#[utoipa::path]` on its handler, every body a wire type deriving
//! `utoipa::ToSchema` (the same struct that is serialised, so the document cannot drift from what
//! is sent), listed once in [`ApiDoc`]. [`Conventions`] adds what every operation shares: the
//! security schemes, and the problem responses any request can meet (a malformed request, a
//! missing or refused credential, an outage). `tests/api/contract.rs` checks every response the
//! test suite receives against this document, and every route against its paths.

use crate::http::api::v1::{
    assets, changes, jobs, lessons, orgs, platforms, review, search, uploads, users,
};
use crate::http::error::{Code, FieldError, Problem};
use crate::http::feeds;
use axum::Json;
use serde_json::Value;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi};

/// The problem responses any operation may answer, besides those it documents itself.
const COMMON_PROBLEMS: &[(u16, &str)] = &[
    (
        400,
        "the request is malformed or a field or parameter is refused",
    ),
    (401, "no credential, or one that is not valid"),
    (403, "the caller may not do this"),
    (404, "no such resource, or not one the caller may see"),
    (413, "the body is over its limit"),
    (414, "the request target is over 8 KiB"),
    (415, "a body of a type this operation does not take"),
    (429, "too many attempts; wait for Retry-After"),
    (500, "an internal error (logged)"),
    (
        503,
        "the database or object storage is unavailable; retry after Retry-After",
    ),
    (507, "the service is out of space; nothing was changed"),
];

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Lectern",
        description = "Educational media library: lessons, assets, resumable uploads, review \
            workflow, organisations and accounts, the change log, and what downstream platforms \
            pull. Staff authenticate with a bearer token (an operator token, a personal token, or \
            a session cookie with its CSRF token); platforms with their key (`lpk_…`). Every \
            error is an RFC 9457 problem body (`application/problem+json`) with a stable `code`."
    ),
    paths(
        document,
        changes::list_changes,
        orgs::list,
        orgs::get,
        orgs::create,
        orgs::update,
        orgs::move_org,
        users::list,
        users::get,
        users::create,
        users::add_grant,
        users::remove_grant,
        users::update,
        users::me,
        users::change_password,
        users::create_token,
        users::list_tokens,
        users::revoke_token,
        users::audit,
        review::submit,
        review::approve,
        review::reject,
        review::revisions,
        review::compare,
        review::queue,
        review::recommend,
        review::recommendations,
        review::adopt,
        review::decline,
        // --- lessons, assets, uploads, search, health ---
        lessons::list_lessons,
        lessons::create_lesson,
        lessons::get_lesson,
        lessons::update_lesson,
        lessons::delete_lesson,
        lessons::publish_lesson,
        lessons::withdraw_lesson,
        assets::upload_asset,
        assets::get_asset,
        assets::delete_asset,
        assets::asset_content,
        assets::asset_url,
        uploads::options,
        uploads::create,
        uploads::options_of_upload,
        uploads::head,
        uploads::patch,
        uploads::terminate,
        search::search,
        search::suggest,
        search::status,
        search::synonyms,
        search::replace_synonyms,
        crate::http::live,
        crate::http::ready,
        crate::http::metrics,
        // --- platforms, audience, feed, OAI-PMH, podcast feeds, jobs ---
        platforms::list,
        platforms::create,
        platforms::get,
        platforms::update,
        platforms::disable,
        platforms::create_key,
        platforms::revoke_key,
        platforms::deliveries,
        platforms::redeliver,
        platforms::set_audience,
        platforms::feed,
        platforms::snapshot,
        feeds::oai_get,
        feeds::oai_post,
        feeds::podcast,
        feeds::artwork,
        jobs::list,
        jobs::retry,
        jobs::retry_many,
        // --- media: probes and renditions ---
        crate::http::api::v1::media::asset_media,
        crate::http::api::v1::media::rendition_url,
        // --- subtitles ---
        crate::http::api::v1::subtitles::list_subtitles,
        crate::http::api::v1::subtitles::subtitle_vtt,
        crate::http::api::v1::media::reprocess,
        crate::http::api::v1::media::thumbnails_vtt,
        crate::http::api::v1::hls::playlist,
        crate::http::api::v1::hls::rendition_file,
        // --- the members' library ---
        crate::http::api::v1::positions::put_position,
        crate::http::api::v1::positions::put_reading,
        crate::http::api::v1::positions::list_positions,
        crate::http::api::v1::learning::get_archive,
        crate::http::api::v1::learning::get_archive_csv,
        crate::http::api::v1::learning::get_lesson_learning,
        users::anonymise,
        crate::http::api::v1::reports::get_report,
        crate::http::api::v1::reports::get_report_file,
        crate::http::api::v1::reports::list_rules,
        crate::http::api::v1::reports::create_rule,
        crate::http::api::v1::reports::delete_rule,
        // --- the learning record store (xAPI) ---
        crate::http::xapi::about,
        crate::http::xapi::get_statements,
        crate::http::xapi::put_statement,
        crate::http::xapi::post_statements,
        crate::http::xapi::documents::get_state,
        crate::http::xapi::documents::put_state,
        crate::http::xapi::documents::post_state,
        crate::http::xapi::documents::delete_state,
        crate::http::xapi::documents::get_activity_profile,
        crate::http::xapi::documents::put_activity_profile,
        crate::http::xapi::documents::post_activity_profile,
        crate::http::xapi::documents::delete_activity_profile,
        crate::http::xapi::documents::get_agent_profile,
        crate::http::xapi::documents::put_agent_profile,
        crate::http::xapi::documents::post_agent_profile,
        crate::http::xapi::documents::delete_agent_profile,
        crate::http::xapi::documents::get_activity,
        crate::http::xapi::documents::get_agent,
    ),
    components(schemas(
        Problem,
        FieldError,
        Code,
        orgs::OrgView,
        orgs::OrgList,
        orgs::CreateOrg,
        orgs::UpdateOrg,
        orgs::MoveOrg,
        crate::domain::org::OrgLevel,
        crate::domain::visibility::Role,
        users::UserView,
        users::UserList,
        users::GrantView,
        users::GrantBody,
        users::CreateUser,
        users::UpdateUser,
        users::ChangePassword,
        users::CreateToken,
        users::TokenView,
        users::NewTokenView,
        users::TokenList,
        users::AuditEntryView,
        users::AuditPage,
        // --- lessons, assets, uploads, search, health ---
        crate::http::views::LessonView,
        crate::http::views::AudienceView,
        crate::http::views::AssetView,
        crate::http::views::AssetMediaView,
        crate::http::views::ReadyRenditionView,
        crate::http::views::TextView,
        crate::http::views::TextStatus,
        crate::http::views::Page<crate::http::views::LessonView>,
        crate::domain::lesson::LessonKind,
        crate::domain::lesson::LessonStatus,
        crate::domain::asset::AssetRole,
        lessons::CreateLesson,
        lessons::UpdateLesson,
        lessons::StepBody,
        assets::PresignedView,
        search::SortParam,
        search::SearchResultsView,
        search::SearchHitView,
        search::HighlightsView,
        search::CueView,
        search::PageHitView,
        search::FacetsView,
        search::FacetCountView,
        search::RegionFacetView,
        search::SuggestionsView,
        search::SuggestionView,
        search::SuggestionSource,
        search::SearchStatusView,
        crate::http::LiveView,
        crate::http::LiveStatus,
        crate::http::ReadyView,
        // --- platforms, audience, feed, OAI-PMH, podcast feeds, jobs ---
        crate::domain::platform::Channel,
        crate::domain::platform::Filters,
        crate::domain::lesson::LessonKind,
        crate::domain::asset::AssetRole,
        crate::domain::job::JobKind,
        crate::domain::job::JobState,
        crate::services::platforms::DeliveryState,
        crate::publish::PlatformLesson,
        crate::publish::PlatformAsset,
        crate::publish::PlatformRendition,
        crate::publish::feed::Item,
        crate::publish::feed::TombstoneReason,
        crate::publish::webhooks::WebhookEvent,
        crate::publish::webhooks::EventType,
        platforms::FiltersInput,
        platforms::CreatePlatform,
        platforms::UpdatePlatform,
        platforms::CreateKey,
        platforms::KeyView,
        platforms::PlatformStats,
        platforms::PlatformView,
        platforms::IssuedKey,
        platforms::IssuedPlatformView,
        platforms::NamedPlatformView,
        platforms::PlatformListItem,
        platforms::PlatformList,
        platforms::NewKeyView,
        platforms::AudienceInput,
        platforms::LessonAudienceView,
        platforms::FeedPage,
        platforms::SnapshotPageView,
        platforms::DeliveryView,
        platforms::DeliveryList,
        jobs::JobView,
        jobs::JobPageView,
        jobs::RetriedView,
        // --- media: probes and renditions ---
        crate::http::api::v1::media::MediaView,
        crate::http::api::v1::media::MediaStatus,
        crate::http::api::v1::media::ProbeView,
        crate::http::api::v1::media::VideoView,
        crate::http::api::v1::media::AudioView,
        crate::http::api::v1::media::RenditionView,
        crate::http::api::v1::media::RenditionUrlView,
        crate::http::api::v1::media::ReprocessView,
        crate::domain::media::RenditionKind,
        crate::domain::media::RenditionState,
        // --- subtitles ---
        crate::http::api::v1::subtitles::SubtitleView,
        crate::http::api::v1::subtitles::SubtitleList,
        crate::domain::subtitle::Origin,
        crate::http::xapi::AboutView,
        crate::http::api::v1::learning::LessonLearningView,
        crate::http::api::v1::learning::SourceLearningView,
        crate::http::api::v1::reports::ReportView,
        crate::http::api::v1::reports::ReportLineView,
        crate::http::api::v1::reports::FiguresView,
        crate::http::api::v1::reports::IdleMemberView,
        crate::http::api::v1::reports::TrendView,
        crate::http::api::v1::reports::RuleLineView,
        crate::http::api::v1::reports::RuleView,
        crate::http::api::v1::reports::RuleList,
        crate::http::api::v1::reports::CreateRule,
        crate::http::api::v1::learning::RequiredView,
    )),
    modifiers(&Conventions)
)]
struct ApiDoc;

/// What every operation shares.
struct Conventions;

impl Modify for Conventions {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "platformKey",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("a downstream platform's key, lpk_…"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "platformBasic",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some(
                        "a downstream platform's key as HTTP Basic credentials: the key's id as \
                         user name, the key (lpk_…) as password (the learning record store)",
                    ))
                    .build(),
            ),
        );
        for item in doc.paths.paths.values_mut() {
            for op in [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.options,
                &mut item.head,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            {
                for (status, description) in COMMON_PROBLEMS {
                    op.responses
                        .responses
                        .entry(status.to_string())
                        .or_insert_with(|| RefOr::T(problem(description)));
                }
            }
        }
    }
}

/// A problem response: `application/problem+json` with the [`Problem`] schema.
pub fn problem(description: &str) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/problem+json",
            ContentBuilder::new()
                .schema(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
                    "Problem",
                ))))
                .build(),
        )
        .build()
}

/// The document as a JSON value.
pub fn document_value() -> Value {
    serde_json::to_value(ApiDoc::openapi()).unwrap_or_default()
}

#[utoipa::path(
    get,
    path = "/api/openapi.json",
    tag = "meta",
    summary = "This document: the OpenAPI 3.1 description of the HTTP API",
    responses((status = 200, description = "the document", body = Object))
)]
pub async fn document() -> Json<Value> {
    Json(document_value())
}
