//! `redis://HOST:PORT/DB?prefix=P&spill=BYTES` metadata store: every write is a Lua script,
//! which Redis runs atomically, so a compare-and-set is one round trip and a transaction is one
//! script that checks every condition before it applies any write.
//!
//! Layout under the prefix (default `reposmith:`):
//!
//! | key | type | what |
//! |---|---|---|
//! | `P` `k:` KEY | hash | `v` version, `d` the value or `r` the sha256 of a value spilled to the package store, `w` the write's token |
//! | `P` `keys` | sorted set | every key (score 0): listing is `ZRANGEBYLEX`, page by page, never `KEYS` |
//! | `P` `seq` | string | the version counter: each write takes the next, so versions never repeat |
//!
//! A write that lost its reply (the connection dropped after Redis ran it) is retried; the
//! retry's failed condition finds the write's own token and answers the write's success.
//! One multiplexed connection that reconnects (`ConnectionManager`), with timeouts, so an
//! unreachable Redis fails a request instead of hanging it. Redis Cluster is not supported
//! (the scripts touch several keys).
use crate::network::{fresh_by_version, retrying, Held, Spill};
use async_trait::async_trait;
use bytes::Bytes;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{RedisError, Script};
use reposmith_core::store::{
    Cas, Conflict, Fresh, MetaStore, Result, StoreError, Versioned, Write,
};
use std::time::Duration;

/// Keys per `ZRANGEBYLEX` page and per pipelined batch.
const PAGE: usize = 1000;

/// KEYS: hash, index, seq. ARGV: expected version ('' = absent), field (`d`/`r`), payload,
/// token, key. Answers the new version, or 0 when the condition failed.
const PUT: &str = r#"
local cur = redis.call('HGET', KEYS[1], 'v')
if (ARGV[1] == '' and cur) or (ARGV[1] ~= '' and cur ~= ARGV[1]) then
  if cur and redis.call('HGET', KEYS[1], 'w') == ARGV[4] then return tonumber(cur) end
  return 0
end
local v = redis.call('INCR', KEYS[3])
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'v', v, ARGV[2], ARGV[3], 'w', ARGV[4])
redis.call('ZADD', KEYS[2], 0, ARGV[5])
return v
"#;

/// KEYS: hash, index. ARGV: expected version, key. 1 when deleted or gone already, else 0.
const DELETE: &str = r#"
local cur = redis.call('HGET', KEYS[1], 'v')
if not cur then return 1 end
if cur ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[2])
return 1
"#;

/// KEYS: each op's hash, then index, seq. ARGV: token, then per op five values: kind
/// (`p`/`d`), key, expected version ('' = absent), field, payload. Checks every condition,
/// then applies every write; 1 when applied (now, or by an earlier attempt), else 0.
const TRANSACT: &str = r#"
local n = #KEYS - 2
local ok = true
for i = 1, n do
  local cur = redis.call('HGET', KEYS[i], 'v')
  local want = ARGV[2 + (i - 1) * 5 + 2]
  if (want == '' and cur) or (want ~= '' and cur ~= want) then ok = false break end
end
if not ok then
  for i = 1, n do
    if ARGV[2 + (i - 1) * 5] == 'p' then
      if redis.call('HGET', KEYS[i], 'w') == ARGV[1] then return 1 end
      return 0
    end
  end
  return 0
end
for i = 1, n do
  local a = 2 + (i - 1) * 5
  if ARGV[a] == 'p' then
    local v = redis.call('INCR', KEYS[n + 2])
    redis.call('DEL', KEYS[i])
    redis.call('HSET', KEYS[i], 'v', v, ARGV[a + 3], ARGV[a + 4], 'w', ARGV[1])
    redis.call('ZADD', KEYS[n + 1], 0, ARGV[a + 1])
  else
    redis.call('DEL', KEYS[i])
    redis.call('ZREM', KEYS[n + 1], ARGV[a + 1])
  end
end
return 1
"#;

pub struct RedisMetaStore {
    conn: ConnectionManager,
    prefix: String,
    spill: Spill,
    scripts: [Script; 3],
}

/// No answer (refused, dropped, timed out) is worth a retry; anything else is Redis's answer.
fn store_error(what: &str, e: RedisError) -> StoreError {
    if e.is_io_error() || e.is_timeout() || e.is_connection_dropped() || e.is_connection_refusal() {
        StoreError::Unavailable {
            what: what.to_string(),
            source: e.into(),
        }
    } else {
        StoreError::backend(what, e)
    }
}

impl RedisMetaStore {
    /// Connects (failing fast when nobody answers) and checks that Redis answers.
    pub async fn open(url: &str, prefix: &str, spill: Spill) -> Result<Self> {
        let client = redis::Client::open(url).map_err(|e| StoreError::backend(url, e))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(3)))
            .set_response_timeout(Some(Duration::from_secs(10)))
            .set_number_of_retries(2);
        let conn = client
            .get_connection_manager_with_config(config)
            .await
            .map_err(|e| store_error(&format!("connecting to {url}"), e))?;
        let store = RedisMetaStore {
            conn,
            prefix: prefix.to_string(),
            spill,
            scripts: [Script::new(PUT), Script::new(DELETE), Script::new(TRANSACT)],
        };
        store
            .retrying("PING", |mut c| async move {
                redis::cmd("PING").query_async::<String>(&mut c).await
            })
            .await?;
        Ok(store)
    }

    fn hash(&self, key: &str) -> String {
        format!("{}k:{key}", self.prefix)
    }

    fn index(&self) -> String {
        format!("{}keys", self.prefix)
    }

    fn seq(&self) -> String {
        format!("{}seq", self.prefix)
    }

    /// Runs `call` on the connection, again after a connection failure (see `retrying`).
    async fn retrying<T, F, Fut>(&self, what: &str, call: F) -> Result<T>
    where
        F: Fn(ConnectionManager) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        retrying("Redis", what, || {
            let answer = call(self.conn.clone());
            async move { answer.await.map_err(|e| store_error(what, e)) }
        })
        .await
    }

    /// The hash field and payload for a value: `d` inline, or `r` naming the spilled blob.
    async fn payload(&self, value: Bytes) -> Result<(&'static str, Vec<u8>)> {
        Ok(match self.spill.hold(value).await? {
            Held::Inline(d) => ("d", d),
            Held::Spilled(sha) => ("r", sha.into_bytes()),
        })
    }
}

#[async_trait]
impl MetaStore for RedisMetaStore {
    fn reads_are_remote(&self) -> bool {
        true
    }
    async fn get(&self, key: &str) -> Result<Option<Versioned>> {
        let hash = self.hash(key);
        let (v, d, r): (Option<u64>, Option<Vec<u8>>, Option<String>) = self
            .retrying(&format!("HMGET {key}"), |mut c| {
                let hash = hash.clone();
                async move {
                    redis::cmd("HMGET")
                        .arg(hash)
                        .arg(&["v", "d", "r"][..])
                        .query_async(&mut c)
                        .await
                }
            })
            .await?;
        let Some(version) = v else {
            return Ok(None);
        };
        let value = self.spill.value(key, d, r).await?;
        Ok(Some(Versioned { value, version }))
    }

    /// Versions never repeat (one counter for every write): the version alone says whether
    /// the key changed.
    async fn get_fresh(&self, key: &str, known: &Versioned) -> Result<Fresh> {
        let hash = self.hash(key);
        let v: Option<u64> = self
            .retrying(&format!("HGET {key}"), |mut c| {
                let hash = hash.clone();
                async move {
                    redis::cmd("HGET")
                        .arg(hash)
                        .arg("v")
                        .query_async(&mut c)
                        .await
                }
            })
            .await?;
        fresh_by_version(self, key, known, v).await
    }

    async fn put_if(&self, key: &str, value: Bytes, expected: Option<u64>) -> Cas<u64> {
        let (field, payload) = self.payload(value).await?;
        let token = crate::token();
        let expected = expected.map(|v| v.to_string()).unwrap_or_default();
        let keys = [self.hash(key), self.index(), self.seq()];
        let version: u64 = self
            .retrying(&format!("EVALSHA put {key}"), |mut c| {
                let mut call = self.scripts[0].prepare_invoke();
                call.key(&keys[..])
                    .arg(&expected)
                    .arg(field)
                    .arg(&payload[..])
                    .arg(&token)
                    .arg(key);
                async move { call.invoke_async(&mut c).await }
            })
            .await?;
        Ok(if version > 0 {
            Ok(version)
        } else {
            Err(Conflict)
        })
    }

    async fn delete_if(&self, key: &str, expected: u64) -> Cas<()> {
        let keys = [self.hash(key), self.index()];
        let done: u64 = self
            .retrying(&format!("EVALSHA delete {key}"), |mut c| {
                let mut call = self.scripts[1].prepare_invoke();
                call.key(&keys[..]).arg(expected).arg(key);
                async move { call.invoke_async(&mut c).await }
            })
            .await?;
        Ok(if done == 1 { Ok(()) } else { Err(Conflict) })
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        let mut out: Vec<String> = Vec::new();
        // 0xFF never occurs in UTF-8: every key with the prefix sorts below prefix + 0xFF.
        let mut max = prefix.as_bytes().to_vec();
        max.push(0xff);
        let max = [b"(".as_slice(), &max].concat();
        loop {
            let min = match out.last() {
                Some(last) => format!("({last}").into_bytes(),
                None => format!("[{prefix}").into_bytes(),
            };
            let page: Vec<String> = self
                .retrying(&format!("ZRANGEBYLEX {prefix}"), |mut c| {
                    let (min, max, index) = (min.clone(), max.clone(), self.index());
                    async move {
                        redis::cmd("ZRANGEBYLEX")
                            .arg(index)
                            .arg(min)
                            .arg(max)
                            .arg("LIMIT")
                            .arg(0)
                            .arg(PAGE)
                            .query_async(&mut c)
                            .await
                    }
                })
                .await?;
            let last_page = page.len() < PAGE;
            out.extend(page);
            if last_page {
                return Ok(out);
            }
        }
    }

    async fn transact(&self, ops: Vec<Write>) -> Cas<()> {
        let token = crate::token();
        let mut keys = Vec::with_capacity(ops.len() + 2);
        let mut args: Vec<Vec<u8>> = vec![token.into_bytes()];
        for op in ops {
            let (kind, key, expected, field, payload) = match op {
                Write::Put {
                    key,
                    value,
                    expected,
                } => {
                    let (field, payload) = self.payload(value).await?;
                    ("p", key, expected, field, payload)
                }
                Write::Delete { key, expected } => ("d", key, Some(expected), "", Vec::new()),
            };
            keys.push(self.hash(&key));
            args.extend([kind.into(), key.into_bytes()]);
            args.push(expected.map(|v| v.to_string()).unwrap_or_default().into());
            args.extend([field.as_bytes().to_vec(), payload]);
        }
        keys.extend([self.index(), self.seq()]);
        let done: u64 = self
            .retrying("EVALSHA transact", |mut c| {
                let mut call = self.scripts[2].prepare_invoke();
                call.key(&keys[..]).arg(&args[..]);
                async move { call.invoke_async(&mut c).await }
            })
            .await?;
        Ok(if done == 1 { Ok(()) } else { Err(Conflict) })
    }

    async fn spilled(&self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for keys in self.list("").await?.chunks(PAGE) {
            let hashes: Vec<String> = keys.iter().map(|k| self.hash(k)).collect();
            let refs: Vec<Option<String>> = self
                .retrying("HGET r (pipelined)", |mut c| {
                    let mut pipe = redis::pipe();
                    for h in &hashes {
                        pipe.cmd("HGET").arg(h).arg("r");
                    }
                    async move { pipe.query_async(&mut c).await }
                })
                .await?;
            out.extend(refs.into_iter().flatten());
        }
        Ok(out)
    }
}
