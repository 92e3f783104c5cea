//! `postgres://USER[:PASSWORD]@HOST[:PORT]/DB?table=T&spill=BYTES` metadata store: one table,
//! compare-and-set by `UPDATE ... WHERE version = $v` and `INSERT ... ON CONFLICT DO NOTHING`,
//! transactions as SQL transactions, listing by an indexed key range.
//!
//! Schema (made and migrated by `manage-repo init-stores`, see `MIGRATIONS`):
//!
//! | column | type | what |
//! |---|---|---|
//! | `key` | text, `COLLATE "C"`, primary key | the metadata key (byte order, so a prefix is a range) |
//! | `version` | bigint | from the sequence `T_version`: versions never repeat |
//! | `value` | bytea | the value, when it is not spilled |
//! | `ref` | text | instead: sha256 of the value spilled to the package store |
//! | `w` | text | the write's token: a retry after a lost reply finds its own write |
//!
//! `T_schema` records the migrations applied. A pool of connections (deadpool-postgres) with
//! connect, wait and statement timeouts, so an unreachable database fails a request instead
//! of hanging it. No TLS: reach the database on a private network or a local socket
//! (`postgres:///DB?user=U&host=/run/postgresql`).
use crate::network::{fresh_by_version, retrying, Held, Spill};
use async_trait::async_trait;
use bytes::Bytes;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use reposmith_core::store::{
    Cas, Conflict, Fresh, MetaStore, Result, StoreError, Versioned, Write,
};
use std::time::Duration;
use tokio_postgres::error::SqlState;
use tokio_postgres::NoTls;

/// Keys per listing page.
const PAGE: i64 = 1000;

/// The schema, one step per version; `init` applies the missing ones in order. `{t}` is the
/// table name. Append, never edit: a database at version N has run steps 1..=N.
const MIGRATIONS: &[&str] = &[r#"
CREATE TABLE {t} (
  key text COLLATE "C" PRIMARY KEY,
  version bigint NOT NULL,
  value bytea,
  ref text,
  w text NOT NULL,
  CHECK ((value IS NULL) <> (ref IS NULL))
);
CREATE SEQUENCE {t}_version;
"#];

pub struct PgMetaStore {
    pool: Pool,
    table: String,
    sql: Sql,
    spill: Spill,
}

/// Every statement, written once for the table; each connection prepares each once
/// (`prepare_cached`), so a call is one round trip.
struct Sql {
    get: String,
    version: String,
    mine: String,
    insert: String,
    update: String,
    delete: String,
    delete_if: String,
    list_first: String,
    list_next: String,
    spilled: String,
}

impl Sql {
    fn new(t: &str) -> Sql {
        let insert = format!(
            "INSERT INTO {t} (key, version, value, ref, w) \
             VALUES ($1, nextval('{t}_version'), $2, $3, $4) \
             ON CONFLICT (key) DO NOTHING RETURNING version"
        );
        let update = format!(
            "UPDATE {t} SET version = nextval('{t}_version'), value = $2, ref = $3, w = $4 \
             WHERE key = $1 AND version = $5 RETURNING version"
        );
        // Keys compare bytewise (COLLATE "C"): a range on the primary key lists a prefix.
        let list = |from: &str| {
            format!(
                "SELECT key FROM {t} WHERE key {from} $1 AND key < $2 ORDER BY key LIMIT {PAGE}"
            )
        };
        Sql {
            get: format!("SELECT version, value, ref FROM {t} WHERE key = $1"),
            version: format!("SELECT version FROM {t} WHERE key = $1"),
            mine: format!("SELECT version FROM {t} WHERE key = $1 AND w = $2"),
            insert,
            update,
            delete: format!("DELETE FROM {t} WHERE key = $1 AND version = $2 RETURNING 1"),
            delete_if: format!(
                "WITH gone AS (DELETE FROM {t} WHERE key = $1 AND version = $2 RETURNING 1) \
                 SELECT (SELECT count(*) FROM gone) > 0 \
                 OR NOT EXISTS (SELECT 1 FROM {t} WHERE key = $1)"
            ),
            list_first: list(">="),
            list_next: list(">"),
            spilled: format!("SELECT ref FROM {t} WHERE ref IS NOT NULL"),
        }
    }
}

/// Runs `sql` on `c` as a statement prepared once per connection.
async fn query(
    c: &deadpool_postgres::ClientWrapper,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> std::result::Result<Vec<tokio_postgres::Row>, tokio_postgres::Error> {
    let statement = c.prepare_cached(sql).await?;
    c.query(&statement, params).await
}

/// A table name we put into SQL: letters, digits and `_`, not starting with a digit.
fn table_name(t: &str) -> Result<&str> {
    let ok = !t.is_empty()
        && t.len() <= 48
        && !t.starts_with(|c: char| c.is_ascii_digit())
        && t.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    ok.then_some(t)
        .ok_or_else(|| StoreError::invalid("postgres table name", t))
}

/// An error with an answer from the server is the server's; no answer is worth a retry.
fn store_error(what: &str, e: tokio_postgres::Error) -> StoreError {
    if e.as_db_error().is_some() {
        StoreError::backend(what, e)
    } else {
        StoreError::Unavailable {
            what: what.to_string(),
            source: e.into(),
        }
    }
}

/// Two transactions that touch the same keys in another order: one is cancelled, which is a
/// lost compare-and-set for the caller.
fn lost_race(e: &tokio_postgres::Error) -> bool {
    e.code().is_some_and(|c| {
        *c == SqlState::T_R_DEADLOCK_DETECTED || *c == SqlState::T_R_SERIALIZATION_FAILURE
    })
}

impl PgMetaStore {
    /// A pool on `url` (a libpq-style URL without our own options). Checks that the database
    /// answers and holds the current schema.
    pub async fn open(url: &str, table: &str, spill: Spill) -> Result<Self> {
        let table = table_name(table)?.to_string();
        let pool = pool(url)?;
        let store = PgMetaStore {
            pool,
            sql: Sql::new(&table),
            table,
            spill,
        };
        let t = &store.table;
        let at = store
            .retrying("SELECT schema version", |c| async move {
                let sql = format!("SELECT coalesce(max(version), 0) FROM {t}_schema");
                c.query_one(&sql, &[]).await.map(|r| r.get::<_, i32>(0))
            })
            .await
            .map_err(|e| match e {
                StoreError::Backend { what, source } => StoreError::Backend {
                    what: format!("{what} (run `manage-repo init-stores --meta URL` first)"),
                    source,
                },
                e => e,
            })?;
        if at as usize != MIGRATIONS.len() {
            return Err(StoreError::Corrupt(format!(
                "table {t} is at schema version {at}, this build needs {}: run `manage-repo init-stores`",
                MIGRATIONS.len()
            )));
        }
        Ok(store)
    }

    /// Creates or migrates the schema, under an advisory lock so two callers do not race.
    pub async fn init(url: &str, table: &str) -> Result<()> {
        let t = table_name(table)?;
        let pool = pool(url)?;
        let mut c = pool.get().await.map_err(|e| pool_error(url, e))?;
        let fail = |e| store_error(&format!("migrating table {t}"), e);
        let tx = c.transaction().await.map_err(fail)?;
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtext('reposmith schema'))",
            &[],
        )
        .await
        .map_err(fail)?;
        let sql = format!(
            "CREATE TABLE IF NOT EXISTS {t}_schema (version int PRIMARY KEY, \
             applied timestamptz NOT NULL DEFAULT now())"
        );
        tx.batch_execute(&sql).await.map_err(fail)?;
        let sql = format!("SELECT coalesce(max(version), 0) FROM {t}_schema");
        let at: i32 = tx.query_one(&sql, &[]).await.map_err(fail)?.get(0);
        for (n, step) in MIGRATIONS.iter().enumerate().skip(at as usize) {
            tx.batch_execute(&step.replace("{t}", t))
                .await
                .map_err(fail)?;
            let sql = format!("INSERT INTO {t}_schema (version) VALUES ($1)");
            tx.execute(&sql, &[&(n as i32 + 1)]).await.map_err(fail)?;
        }
        tx.commit().await.map_err(fail)
    }

    /// Runs `call` on a pooled connection, again on a fresh one after a connection failure
    /// (see `retrying`).
    async fn retrying<T, F, Fut>(&self, what: &str, call: F) -> Result<T>
    where
        F: Fn(deadpool_postgres::Object) -> Fut,
        Fut: std::future::Future<Output = std::result::Result<T, tokio_postgres::Error>>,
    {
        retrying("Postgres", what, || async {
            let c = self.pool.get().await.map_err(|e| pool_error(what, e))?;
            call(c).await.map_err(|e| store_error(what, e))
        })
        .await
    }

    /// The value and spilled-ref columns for a value.
    async fn columns(&self, value: Bytes) -> Result<(Option<Vec<u8>>, Option<String>)> {
        Ok(match self.spill.hold(value).await? {
            Held::Inline(d) => (Some(d), None),
            Held::Spilled(sha) => (None, Some(sha)),
        })
    }

    /// Whether `key` holds a write made with `token` (an earlier attempt that landed).
    async fn mine(&self, key: &str, token: &str) -> Result<Option<u64>> {
        self.retrying(&format!("SELECT own write {key}"), |c| async move {
            let rows = query(&c, &self.sql.mine, &[&key, &token]).await?;
            Ok(rows.first().map(|r| r.get::<_, i64>(0) as u64))
        })
        .await
    }
}

fn pool(url: &str) -> Result<Pool> {
    let mut config: tokio_postgres::Config = url
        .parse()
        .map_err(|e| StoreError::backend(format!("postgres URL {url:?}"), e))?;
    config
        .connect_timeout(Duration::from_secs(3))
        .options("-c statement_timeout=30000 -c lock_timeout=10000");
    let manager = Manager::from_config(
        config,
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(16)
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(Duration::from_secs(10)))
        .create_timeout(Some(Duration::from_secs(5)))
        .build()
        .map_err(|e| StoreError::backend("building the postgres pool", e))
}

fn pool_error(what: &str, e: deadpool_postgres::PoolError) -> StoreError {
    StoreError::Unavailable {
        what: what.to_string(),
        source: e.into(),
    }
}

#[async_trait]
impl MetaStore for PgMetaStore {
    fn reads_are_remote(&self) -> bool {
        true
    }
    async fn get(&self, key: &str) -> Result<Option<Versioned>> {
        let row = self
            .retrying(&format!("SELECT {key}"), |c| async move {
                let rows = query(&c, &self.sql.get, &[&key]).await?;
                Ok(rows.first().map(|r| {
                    let v: i64 = r.get(0);
                    (
                        v as u64,
                        r.get::<_, Option<Vec<u8>>>(1),
                        r.get::<_, Option<String>>(2),
                    )
                }))
            })
            .await?;
        let Some((version, value, spilled)) = row else {
            return Ok(None);
        };
        let value = self.spill.value(key, value, spilled).await?;
        Ok(Some(Versioned { value, version }))
    }

    /// Versions never repeat (one sequence for every write): the version alone says whether
    /// the key changed.
    async fn get_fresh(&self, key: &str, known: &Versioned) -> Result<Fresh> {
        let v = self
            .retrying(&format!("SELECT version {key}"), |c| async move {
                let rows = query(&c, &self.sql.version, &[&key]).await?;
                Ok(rows.first().map(|r| r.get::<_, i64>(0) as u64))
            })
            .await?;
        fresh_by_version(self, key, known, v).await
    }

    async fn put_if(&self, key: &str, value: Bytes, expected: Option<u64>) -> Cas<u64> {
        let (value, spilled) = self.columns(value).await?;
        let token = crate::token();
        let written = self
            .retrying(&format!("UPSERT {key}"), |c| {
                let (value, spilled, token) = (&value, &spilled, &token);
                async move {
                    let rows = match expected {
                        None => query(&c, &self.sql.insert, &[&key, value, spilled, token]).await?,
                        Some(v) => {
                            let v = v as i64;
                            query(&c, &self.sql.update, &[&key, value, spilled, token, &v]).await?
                        }
                    };
                    Ok(rows.first().map(|r| r.get::<_, i64>(0) as u64))
                }
            })
            .await?;
        Ok(match written {
            Some(v) => Ok(v),
            // An earlier attempt whose reply was lost may have written it.
            None => self.mine(key, &token).await?.ok_or(Conflict),
        })
    }

    async fn delete_if(&self, key: &str, expected: u64) -> Cas<()> {
        let done = self
            .retrying(&format!("DELETE {key}"), |c| async move {
                let rows = query(&c, &self.sql.delete_if, &[&key, &(expected as i64)]).await?;
                Ok(rows.first().is_some_and(|r| r.get::<_, bool>(0)))
            })
            .await?;
        Ok(if done { Ok(()) } else { Err(Conflict) })
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        // U+10FFFF sorts above every key with the prefix.
        let below = format!("{prefix}\u{10FFFF}");
        let mut out: Vec<String> = Vec::new();
        loop {
            let (sql, from) = match out.last() {
                Some(last) => (&self.sql.list_next, last.clone()),
                None => (&self.sql.list_first, prefix.to_string()),
            };
            let page: Vec<String> = self
                .retrying(&format!("SELECT keys {prefix}"), |c| {
                    let (from, below) = (&from, &below);
                    async move {
                        let rows = query(&c, sql, &[from, below]).await?;
                        Ok(rows.iter().map(|r| r.get(0)).collect())
                    }
                })
                .await?;
            let last_page = (page.len() as i64) < PAGE;
            out.extend(page);
            if last_page {
                return Ok(out);
            }
        }
    }

    async fn transact(&self, ops: Vec<Write>) -> Cas<()> {
        let token = crate::token();
        let mut rows = Vec::with_capacity(ops.len());
        for op in ops {
            rows.push(match op {
                Write::Put {
                    key,
                    value,
                    expected,
                } => {
                    let (value, spilled) = self.columns(value).await?;
                    (key, expected.map(|v| v as i64), Some((value, spilled)))
                }
                Write::Delete { key, expected } => (key, Some(expected as i64), None),
            });
        }
        let applied = self
            .retrying("TRANSACTION", |mut c| {
                let (rows, token, sql) = (&rows, &token, &self.sql);
                async move {
                    let tx = c.transaction().await?;
                    for (key, expected, put) in rows {
                        let (statement, params): (
                            _,
                            Vec<&(dyn tokio_postgres::types::ToSql + Sync)>,
                        ) = match (put, expected) {
                            (Some((v, r)), None) => (&sql.insert, vec![key, v, r, token]),
                            (Some((v, r)), Some(e)) => (&sql.update, vec![key, v, r, token, e]),
                            (None, e) => (&sql.delete, vec![key, e]),
                        };
                        let n = match tx.prepare_cached(statement).await {
                            Ok(st) => tx.query(&st, &params).await.map(|r| r.len()),
                            Err(e) => Err(e),
                        };
                        match n {
                            Ok(1) => {}
                            Ok(_) => return Ok(false), // dropping `tx` rolls it back
                            Err(e) if lost_race(&e) => return Ok(false),
                            Err(e) => return Err(e),
                        }
                    }
                    match tx.commit().await {
                        Err(e) if lost_race(&e) => Ok(false),
                        r => r.map(|_| true),
                    }
                }
            })
            .await?;
        if applied {
            return Ok(Ok(()));
        }
        // An earlier attempt whose reply was lost may have committed it.
        let first_put = rows.iter().find(|(_, _, put)| put.is_some());
        Ok(match first_put {
            Some((key, _, _)) if self.mine(key, &token).await?.is_some() => Ok(()),
            _ => Err(Conflict),
        })
    }

    async fn spilled(&self) -> Result<Vec<String>> {
        self.retrying("SELECT spilled", |c| async move {
            let rows = query(&c, &self.sql.spilled, &[]).await?;
            Ok(rows.iter().map(|r| r.get(0)).collect())
        })
        .await
    }
}
