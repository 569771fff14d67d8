//! The SQL boundary of the domain's states: each status-like column is read straight into its
//! enum, parsed once here. A value that is none of the enum's is a decode error
//! (`sqlx::Error::ColumnDecode`), so it fails the query that read it and is logged as an internal
//! error — it never reads as a default state. The migrations' CHECK constraints keep such values
//! out; this is the second line, for a row written by hand or by a newer version.
//!
//! Values are bound as their `as_str()` text, the same text the enums serialise to in JSON.

use crate::db::changes::{Entity, Op};
use crate::domain::asset::{AssetRole, Disposition, ExtractionStatus};
use crate::domain::lesson::{LessonKind, LessonStatus, RecommendationState, RevisionState};
use crate::domain::org::OrgLevel;
use crate::domain::platform::Channel;
use crate::domain::visibility::Role;
use sqlx::any::{Any, AnyTypeInfo, AnyValueRef};
use sqlx::error::BoxDynError;

/// Implements reading an enum from a text column with its `parse`.
macro_rules! text_state {
    ($($t:ty),* $(,)?) => {$(
        impl sqlx::Type<Any> for $t {
            fn type_info() -> AnyTypeInfo {
                <str as sqlx::Type<Any>>::type_info()
            }

            fn compatible(ty: &AnyTypeInfo) -> bool {
                <str as sqlx::Type<Any>>::compatible(ty)
            }
        }

        impl<'r> sqlx::Decode<'r, Any> for $t {
            fn decode(value: AnyValueRef<'r>) -> Result<Self, BoxDynError> {
                let text = <&str as sqlx::Decode<'r, Any>>::decode(value)?;
                Ok(<$t>::parse(text)?)
            }
        }
    )*};
}

text_state!(
    LessonKind,
    LessonStatus,
    RevisionState,
    Channel,
    OrgLevel,
    Role,
    AssetRole,
    Disposition,
    ExtractionStatus,
    RecommendationState,
    Entity,
    Op,
);

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::Row;

    async fn pool() -> sqlx::AnyPool {
        sqlx::any::install_default_drivers();
        sqlx::any::AnyPoolOptions::new()
            .max_connections(1)
            .connect("sqlite::memory:")
            .await
            .expect("an in-memory SQLite database")
    }

    #[tokio::test]
    async fn a_known_status_is_read_as_its_state() {
        let pool = pool().await;
        for (text, state) in [
            ("draft", LessonStatus::Draft),
            ("published", LessonStatus::Published),
            ("withdrawn", LessonStatus::Withdrawn),
        ] {
            let row = sqlx::query("SELECT $1 AS status")
                .bind(text)
                .fetch_one(&pool)
                .await
                .unwrap();
            assert_eq!(row.try_get::<LessonStatus, _>("status").unwrap(), state);
        }
    }

    #[tokio::test]
    async fn revision_states_are_read_and_unknown_ones_refused() {
        let pool = pool().await;
        for text in [
            "draft",
            "submitted",
            "approved",
            "rejected",
            "published",
            "superseded",
        ] {
            let row = sqlx::query("SELECT $1 AS state")
                .bind(text)
                .fetch_one(&pool)
                .await
                .unwrap();
            let state: RevisionState = row.try_get("state").unwrap();
            assert_eq!(state.as_str(), text);
        }
        let row = sqlx::query("SELECT 'in review' AS state")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert!(matches!(
            row.try_get::<RevisionState, _>("state"),
            Err(sqlx::Error::ColumnDecode { .. })
        ));
    }

    #[tokio::test]
    async fn channels_are_read_and_an_unknown_one_is_not_other() {
        let pool = pool().await;
        for c in Channel::ALL {
            let row = sqlx::query("SELECT $1 AS channel")
                .bind(c.as_str())
                .fetch_one(&pool)
                .await
                .unwrap();
            assert_eq!(row.try_get::<Channel, _>("channel").unwrap(), c);
        }
        let row = sqlx::query("SELECT 'radio' AS channel")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert!(matches!(
            row.try_get::<Channel, _>("channel"),
            Err(sqlx::Error::ColumnDecode { .. })
        ));
    }

    /// Reads `text` as a `T` the way a query reads a column.
    async fn read<T>(pool: &sqlx::AnyPool, text: &str) -> Result<T, sqlx::Error>
    where
        T: for<'r> sqlx::Decode<'r, Any> + sqlx::Type<Any>,
    {
        let row = sqlx::query("SELECT $1 AS v")
            .bind(text)
            .fetch_one(pool)
            .await
            .unwrap();
        row.try_get::<T, _>("v")
    }

    fn is_decode_error<T: std::fmt::Debug>(r: Result<T, sqlx::Error>) -> bool {
        matches!(r, Err(sqlx::Error::ColumnDecode { .. }))
    }

    #[tokio::test]
    async fn asset_roles_are_read_and_an_unknown_one_refused() {
        let pool = pool().await;
        for text in ["master", "subtitle", "attachment", "poster"] {
            let role: AssetRole = read(&pool, text).await.unwrap();
            assert_eq!(role.as_str(), text);
        }
        assert!(is_decode_error(read::<AssetRole>(&pool, "rendition").await));
        assert!(is_decode_error(read::<AssetRole>(&pool, "Master").await));
    }

    #[tokio::test]
    async fn asset_dispositions_are_read_and_an_unknown_one_refused() {
        let pool = pool().await;
        for text in ["inline", "attachment"] {
            let d: Disposition = read(&pool, text).await.unwrap();
            assert_eq!(d.as_str(), text);
        }
        assert!(is_decode_error(
            read::<Disposition>(&pool, "download").await
        ));
        assert!(is_decode_error(read::<Disposition>(&pool, "").await));
    }

    #[tokio::test]
    async fn recommendation_states_are_read_and_an_unknown_one_refused() {
        let pool = pool().await;
        for text in ["pending", "adopted", "declined"] {
            let state: RecommendationState = read(&pool, text).await.unwrap();
            assert_eq!(state.as_str(), text);
        }
        assert!(is_decode_error(
            read::<RecommendationState>(&pool, "accepted").await
        ));
    }

    #[tokio::test]
    async fn change_entities_and_ops_are_read_and_unknown_ones_refused() {
        let pool = pool().await;
        for e in [Entity::Lesson, Entity::Asset, Entity::Platform] {
            assert_eq!(read::<Entity>(&pool, e.as_str()).await.unwrap(), e);
        }
        for op in [
            Op::Create,
            Op::Update,
            Op::Publish,
            Op::Withdraw,
            Op::Delete,
        ] {
            assert_eq!(read::<Op>(&pool, op.as_str()).await.unwrap(), op);
        }
        assert!(is_decode_error(read::<Entity>(&pool, "series").await));
        assert!(is_decode_error(read::<Op>(&pool, "upsert").await));
    }

    #[tokio::test]
    async fn an_unknown_status_is_a_decode_error_not_a_draft() {
        let pool = pool().await;
        for text in ["archived", "Published", "", " draft"] {
            let row = sqlx::query("SELECT $1 AS status")
                .bind(text)
                .fetch_one(&pool)
                .await
                .unwrap();
            let err = row.try_get::<LessonStatus, _>("status").unwrap_err();
            assert!(
                matches!(err, sqlx::Error::ColumnDecode { .. }),
                "{text:?}: {err:?}"
            );
        }
    }

    #[tokio::test]
    async fn org_levels_and_roles_are_read_and_unknown_ones_refused() {
        let pool = pool().await;
        for l in OrgLevel::ALL {
            let row = sqlx::query("SELECT $1 AS level")
                .bind(l.as_str())
                .fetch_one(&pool)
                .await
                .unwrap();
            assert_eq!(row.try_get::<OrgLevel, _>("level").unwrap(), l);
        }
        for r in Role::ALL {
            let row = sqlx::query("SELECT $1 AS role")
                .bind(r.as_str())
                .fetch_one(&pool)
                .await
                .unwrap();
            assert_eq!(row.try_get::<Role, _>("role").unwrap(), r);
        }
        for text in ["village", "County", ""] {
            let row = sqlx::query("SELECT $1 AS level")
                .bind(text)
                .fetch_one(&pool)
                .await
                .unwrap();
            assert!(matches!(
                row.try_get::<OrgLevel, _>("level"),
                Err(sqlx::Error::ColumnDecode { .. })
            ));
        }
        for text in ["owner", "Editor", ""] {
            let row = sqlx::query("SELECT $1 AS role")
                .bind(text)
                .fetch_one(&pool)
                .await
                .unwrap();
            assert!(matches!(
                row.try_get::<Role, _>("role"),
                Err(sqlx::Error::ColumnDecode { .. })
            ));
        }
    }
}
