//! `core/src/db/schema.rs` (what diesel compiles queries against) matches what the embedded
//! migrations create in a real PostgreSQL: same tables, columns, types and nullability.

use std::collections::BTreeSet;

use diesel::sql_types::Text;
use diesel_async::RunQueryDsl;
use logagg_testkit::{root, TestEnv};

#[derive(diesel::QueryableByName)]
struct Column {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
    #[diesel(sql_type = Text)]
    data_type: String,
    #[diesel(sql_type = Text)]
    is_nullable: String,
}

/// The PostgreSQL type name information_schema reports for a diesel SQL type.
fn pg_type(diesel: &str) -> &'static str {
    match diesel {
        "Int8" => "bigint",
        "Int4" => "integer",
        "Text" => "text",
        "Timestamptz" => "timestamp with time zone",
        "Jsonb" => "jsonb",
        "Bytea" => "bytea",
        other => panic!("schema.rs uses {other}: add it to this test's type map"),
    }
}

/// `(table, column, type, nullable)` from the `diesel::table!` blocks of schema.rs.
fn declared() -> BTreeSet<(String, String, String, bool)> {
    let text = std::fs::read_to_string(root().join("core/src/db/schema.rs")).expect("schema.rs");
    let mut out = BTreeSet::new();
    let mut table: Option<String> = None;
    for line in text.lines().map(str::trim) {
        if let Some(rest) = line
            .strip_suffix('{')
            .filter(|_| !line.starts_with("diesel::"))
        {
            table = rest.split_whitespace().next().map(str::to_owned);
        } else if line == "}" {
            table = None;
        } else if let (Some(table), Some((column, ty))) = (&table, line.split_once("->")) {
            let ty = ty.trim().trim_end_matches(',');
            let (ty, nullable) = match ty.strip_prefix("Nullable<") {
                Some(inner) => (inner.trim_end_matches('>'), true),
                None => (ty, false),
            };
            out.insert((
                table.clone(),
                column.trim().to_owned(),
                pg_type(ty).to_owned(),
                nullable,
            ));
        }
    }
    assert!(
        out.len() > 20,
        "parsed too few columns from schema.rs: {out:?}"
    );
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn schema_rs_matches_the_migrated_database() {
    let env = TestEnv::new("schema", 1).await;
    let mut conn = env.pool.get().await.expect("connection");
    let columns: Vec<Column> = diesel::sql_query(
        "SELECT table_name::text, column_name::text, data_type::text, is_nullable::text \
         FROM information_schema.columns \
         WHERE table_schema = 'public' AND table_name <> '__diesel_schema_migrations'",
    )
    .load(&mut conn)
    .await
    .expect("information_schema");
    let actual: BTreeSet<_> = columns
        .into_iter()
        .map(|c| {
            (
                c.table_name,
                c.column_name,
                c.data_type,
                c.is_nullable == "YES",
            )
        })
        .collect();
    let declared = declared();
    let missing: Vec<_> = declared.difference(&actual).collect();
    let extra: Vec<_> = actual.difference(&declared).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "schema.rs and the migrations disagree.\nonly in schema.rs: {missing:#?}\nonly in the database: {extra:#?}"
    );
}
