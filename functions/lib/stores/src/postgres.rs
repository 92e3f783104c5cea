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
    Cas, Conflict, Fresh, MetaStore, PackageStore, Result, StoreError, Versioned, Write,
};
use std::sync::Arc;
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
    spill: Spill,
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
    pub async fn open(
        url: &str,
        table: &str,
        spill_over: usize,
        spill: Arc<dyn PackageStore>,
    ) -> Result<Self> {
        let table = table_name(table)?.to_string();
        let pool = pool(url)?;
        let store = PgMetaStore {
            pool,
            table,
            spill: Spill {
                over: spill_over,
                store: spill,
            },
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
        let t = &self.table;
        let sql = format!("SELECT version FROM {t} WHERE key = $1 AND w = $2");
        self.retrying(&format!("SELECT own write {key}"), |c| {
            let sql = sql.clone();
            async move {
                let rows = c.query(&sql, &[&key, &token]).await?;
                Ok(rows.first().map(|r| r.get::<_, i64>(0) as u64))
            }
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
    async fn get(&self, key: &str) -> Result<Option<Versioned>> {
        let sql = format!(
            "SELECT version, value, ref FROM {} WHERE key = $1",
            self.table
        );
        let row = self
            .retrying(&format!("SELECT {key}"), |c| {
                let sql = sql.clone();
                async move {
                    let rows = c.query(&sql, &[&key]).await?;
                    Ok(rows.first().map(|r| {
                        let v: i64 = r.get(0);
                        (
                            v as u64,
                            r.get::<_, Option<Vec<u8>>>(1),
                            r.get::<_, Option<String>>(2),
                        )
                    }))
                }
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
        let sql = format!("SELECT version FROM {} WHERE key = $1", self.table);
        let v = self
            .retrying(&format!("SELECT version {key}"), |c| {
                let sql = sql.clone();
                async move {
                    let rows = c.query(&sql, &[&key]).await?;
                    Ok(rows.first().map(|r| r.get::<_, i64>(0) as u64))
                }
            })
            .await?;
        fresh_by_version(self, key, known, v).await
    }

    async fn put_if(&self, key: &str, value: Bytes, expected: Option<u64>) -> Cas<u64> {
        let (value, spilled) = self.columns(value).await?;
        let token = crate::token();
        let t = &self.table;
        let sql = match expected {
            None => format!(
                "INSERT INTO {t} (key, version, value, ref, w) \
                 VALUES ($1, nextval('{t}_version'), $2, $3, $4) \
                 ON CONFLICT (key) DO NOTHING RETURNING version"
            ),
            Some(_) => format!(
                "UPDATE {t} SET version = nextval('{t}_version'), value = $2, ref = $3, w = $4 \
                 WHERE key = $1 AND version = $5 RETURNING version"
            ),
        };
        let expected = expected.map(|v| v as i64);
        let written = self
            .retrying(&format!("UPSERT {key}"), |c| {
                let (sql, value, spilled, token) = (&sql, &value, &spilled, &token);
                async move {
                    let rows = match expected {
                        None => c.query(sql, &[&key, value, spilled, token]).await?,
                        Some(v) => c.query(sql, &[&key, value, spilled, token, &v]).await?,
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
        let t = &self.table;
        let sql = format!(
            "WITH gone AS (DELETE FROM {t} WHERE key = $1 AND version = $2 RETURNING 1) \
             SELECT (SELECT count(*) FROM gone) > 0 OR NOT EXISTS (SELECT 1 FROM {t} WHERE key = $1)"
        );
        let done = self
            .retrying(&format!("DELETE {key}"), |c| {
                let sql = sql.clone();
                async move {
                    let row = c.query_one(&sql, &[&key, &(expected as i64)]).await?;
                    Ok(row.get::<_, bool>(0))
                }
            })
            .await?;
        Ok(if done { Ok(()) } else { Err(Conflict) })
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        let t = &self.table;
        // Keys compare bytewise (COLLATE "C"): U+10FFFF sorts above every key with the prefix.
        let below = format!("{prefix}\u{10FFFF}");
        let first =
            format!("SELECT key FROM {t} WHERE key >= $1 AND key < $2 ORDER BY key LIMIT {PAGE}");
        let next =
            format!("SELECT key FROM {t} WHERE key > $1 AND key < $2 ORDER BY key LIMIT {PAGE}");
        let mut out: Vec<String> = Vec::new();
        loop {
            let (sql, from) = match out.last() {
                Some(last) => (&next, last.clone()),
                None => (&first, prefix.to_string()),
            };
            let page: Vec<String> = self
                .retrying(&format!("SELECT keys {prefix}"), |c| {
                    let (sql, from, below) = (sql.clone(), from.clone(), &below);
                    async move {
                        let rows = c.query(&sql, &[&from, below]).await?;
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
        let t = &self.table;
        let insert = format!(
            "INSERT INTO {t} (key, version, value, ref, w) \
             VALUES ($1, nextval('{t}_version'), $2, $3, $4) ON CONFLICT (key) DO NOTHING"
        );
        let update = format!(
            "UPDATE {t} SET version = nextval('{t}_version'), value = $2, ref = $3, w = $4 \
             WHERE key = $1 AND version = $5"
        );
        let delete = format!("DELETE FROM {t} WHERE key = $1 AND version = $2");
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
                let (rows, token) = (&rows, &token);
                let (insert, update, delete) = (&insert, &update, &delete);
                async move {
                    let tx = c.transaction().await?;
                    for (key, expected, put) in rows {
                        let n = match (put, expected) {
                            (Some((v, r)), None) => tx.execute(insert, &[key, v, r, token]).await,
                            (Some((v, r)), Some(e)) => {
                                tx.execute(update, &[key, v, r, token, e]).await
                            }
                            (None, e) => tx.execute(delete, &[key, e]).await,
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
        let sql = format!("SELECT ref FROM {} WHERE ref IS NOT NULL", self.table);
        self.retrying("SELECT spilled", |c| {
            let sql = sql.clone();
            async move {
                let rows = c.query(&sql, &[]).await?;
                Ok(rows.iter().map(|r| r.get(0)).collect())
            }
        })
        .await
    }
}
