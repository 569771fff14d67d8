use crate::common::fresh_postgres;
use lectern::db::Db;
use std::collections::BTreeSet;

fn migration_names(dir: &str) -> BTreeSet<String> {
    std::fs::read_dir(format!("{}/migrations/{dir}", env!("CARGO_MANIFEST_DIR")))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn both_backends_have_the_same_migration_versions() {
    assert_eq!(migration_names("sqlite"), migration_names("postgres"));
}

/// The two migration folders must describe the same tables and columns (types normalised).
#[tokio::test]
async fn sqlite_and_postgres_schemas_do_not_drift_apart() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = Db::connect(
        &format!("sqlite://{}?mode=rwc", dir.path().join("s.db").display()),
        2,
    )
    .await
    .unwrap();
    sqlite.migrate().await.unwrap();
    let pg_ok = Db::connect(
        &std::env::var("LECTERN_TEST_PG_URL")
            .unwrap_or_else(|_| "postgres://root@127.0.0.1:5432/test".into()),
        1,
    )
    .await
    .is_ok();
    if !pg_ok {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "PostgreSQL is required under CI"
        );
        eprintln!("!!! PostgreSQL unreachable: schema drift NOT checked");
        return;
    }
    let pg = Db::connect(&fresh_postgres().await, 2).await.unwrap();
    pg.migrate().await.unwrap();
    let lite: BTreeSet<(String, String, String, bool)> = sqlx::query_as::<_, (String, String, String, i64)>(
        "SELECT m.name, p.name, p.type, p.\"notnull\" + p.pk FROM sqlite_master m JOIN pragma_table_info(m.name) p \
         WHERE m.type = 'table' AND m.name NOT LIKE '\\_sqlx%' ESCAPE '\\' AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
    )
    .fetch_all(sqlite.pool())
    .await
    .unwrap()
    .into_iter()
    .map(|(t, c, ty, nn)| (t, c, ty.to_lowercase(), nn > 0))
    .collect();
    let post: BTreeSet<(String, String, String, bool)> = sqlx::query_as::<_, (String, String, String, String)>(
        "SELECT table_name::text, column_name::text, data_type::text, is_nullable::text FROM information_schema.columns \
         WHERE table_schema = 'public' AND table_name NOT LIKE '\\_sqlx%'",
    )
    .fetch_all(pg.pool())
    .await
    .unwrap()
    .into_iter()
    .map(|(t, c, ty, nullable)| (t, c, ty.to_lowercase(), nullable == "NO"))
    .collect();
    // PostgreSQL reports primary-key columns as NOT NULL; SQLite marks them only as `pk`, which
    // the query above counts as not null.
    assert!(!lite.is_empty());
    assert_eq!(lite, post);
}
