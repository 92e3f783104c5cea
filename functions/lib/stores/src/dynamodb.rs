//! `dynamodb://TABLE` metadata store on aws-sdk-dynamodb: compare-and-set by a
//! `ConditionExpression` on a version attribute.
//!
//! Table layout (one item per metadata key; create it with `manage-repo init-stores`):
//!
//! | attribute | type | what |
//! |---|---|---|
//! | `pk` | S, partition key | the key's first segment: `repo`, `upload` |
//! | `sk` | S, sort key | the whole key: `repo/NAME/config`, `repo/NAME/head`, `repo/NAME/published`, `upload/NAME/ID` |
//! | `v` | N | version: 1 on create, +1 on every write; `put_if` conditions on it |
//! | `d` | B | the value (JSON), when it fits in an item |
//! | `ref` | S | instead of `d`: sha256 of the value spilled to the package store (values over 300 KB; items cap at 400 KB) |
//! | `w` | S | a random token per write: after a timeout whose write did land, the retry's failed condition is recognised as our own success |
//!
//! Listing a prefix is a Query on its partition (`begins_with(sk, prefix)`). Several keys
//! change together in one `TransactWriteItems` (repo create and delete).
use crate::aws::OrStoreError;
use crate::token;
use async_trait::async_trait;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, Delete, KeySchemaElement, KeyType, Put,
    ScalarAttributeType, TransactWriteItem,
};
use aws_sdk_dynamodb::Client;
use bytes::Bytes;
use reposmith_core::store::{
    Cas, Conflict, MetaStore, PackageStore, Result, StoreError, Versioned, Write,
};
use std::collections::HashMap;
use std::sync::Arc;

/// Values larger than this go to the package store (an item holds 400 KB in all).
const SPILL: usize = 300 * 1024;

type Item = HashMap<String, AttributeValue>;

pub struct DynamoMetaStore {
    client: Client,
    table: String,
    /// Where values too large for an item go.
    spill: Arc<dyn PackageStore>,
}

fn partition(key: &str) -> &str {
    key.split('/').next().unwrap_or(key)
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_string())
}

fn n(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// Every item a Query or Scan request pages through (the paginators share no trait).
macro_rules! all_items {
    ($req:expr, $what:expr) => {
        $req.into_paginator()
            .items()
            .send()
            .collect::<std::result::Result<Vec<Item>, _>>()
            .await
            .or_store_error($what)?
    };
}

/// An item's primary key: the partition (the key's first segment) and the whole key.
fn primary_key(key: &str) -> Item {
    Item::from([("pk".into(), s(partition(key))), ("sk".into(), s(key))])
}

fn version_of(item: &Item) -> Result<u64> {
    match item.get("v") {
        Some(AttributeValue::N(v)) => v
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("metadata item version {v:?}"))),
        _ => Err(StoreError::Corrupt(
            "metadata item without a version".into(),
        )),
    }
}

/// A request the SDK refused to build (a required field missing): a bug here, not the
/// backend's.
fn built<T>(r: std::result::Result<T, aws_sdk_dynamodb::error::BuildError>) -> Result<T> {
    r.map_err(|e| StoreError::backend("building a DynamoDB request", e))
}

impl DynamoMetaStore {
    pub fn new(client: Client, table: &str, spill: Arc<dyn PackageStore>) -> Self {
        DynamoMetaStore {
            client,
            table: table.to_string(),
            spill,
        }
    }

    /// Checks the table answers (a clear error at start instead of at the first upload).
    pub async fn check(&self) -> Result<()> {
        let what = format!("DynamoDB table {:?}", self.table);
        let describe = self.client.describe_table().table_name(&self.table);
        describe.send().await.map(drop).or_store_error(what)
    }

    /// Creates the table (development setups, on-demand billing); an existing one is fine.
    pub async fn create_table(client: &Client, table: &str) -> Result<()> {
        let attr = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
        };
        let key = |name: &str, t: KeyType| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(t)
                .build()
        };
        let made = client
            .create_table()
            .table_name(table)
            .attribute_definitions(built(attr("pk"))?)
            .attribute_definitions(built(attr("sk"))?)
            .key_schema(built(key("pk", KeyType::Hash))?)
            .key_schema(built(key("sk", KeyType::Range))?)
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await;
        match made {
            Err(e)
                if !e
                    .as_service_error()
                    .is_some_and(|s| s.is_resource_in_use_exception()) =>
            {
                return Err(e).or_store_error(format!("creating table {table:?}"));
            }
            _ => {}
        }
        // A new table is CREATING for a while on AWS.
        for _ in 0..120 {
            let t = client
                .describe_table()
                .table_name(table)
                .send()
                .await
                .or_store_error("describing the table")?;
            let status = t.table().and_then(|t| t.table_status());
            if status.is_none_or(|s| s.as_str() == "ACTIVE") {
                return Ok(());
            }
            #[cfg(not(target_family = "wasm"))]
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
        Err(StoreError::backend(
            format!("table {table:?}"),
            "did not become ACTIVE",
        ))
    }

    async fn read(&self, key: &str) -> Result<Option<Item>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(primary_key(key)))
            .consistent_read(true)
            .send()
            .await
            .or_store_error(format!("GetItem {key}"))?;
        Ok(out.item)
    }

    /// The item for `value` at `version`, spilling a large value to the package store first
    /// (so an item never names a blob that is not there).
    async fn item(&self, key: &str, value: Bytes, version: u64, w: &str) -> Result<Item> {
        let mut item = primary_key(key);
        item.insert("v".into(), n(version));
        item.insert("w".into(), s(w));
        if value.len() > SPILL {
            let d = self.spill.put_bytes(value).await?;
            item.insert("ref".into(), s(&d.sha256));
        } else {
            item.insert("d".into(), AttributeValue::B(Blob::new(value.to_vec())));
        }
        Ok(item)
    }

    /// The condition and its values for "absent" or "still at `expected`".
    fn condition(expected: Option<u64>) -> (&'static str, Option<(String, AttributeValue)>) {
        match expected {
            None => ("attribute_not_exists(sk)", None),
            Some(v) => ("v = :v", Some((":v".to_string(), n(v)))),
        }
    }
}

#[async_trait]
impl MetaStore for DynamoMetaStore {
    fn reads_are_remote(&self) -> bool {
        true
    }
    async fn get(&self, key: &str) -> Result<Option<Versioned>> {
        let Some(item) = self.read(key).await? else {
            return Ok(None);
        };
        let version = version_of(&item)?;
        let value = match (item.get("d"), item.get("ref")) {
            (Some(AttributeValue::B(b)), _) => Bytes::from(b.clone().into_inner()),
            (_, Some(AttributeValue::S(sha))) => self
                .spill
                .get_bytes(sha)
                .await?
                .ok_or_else(|| StoreError::Missing(format!("{key}: spilled value {sha}")))?,
            _ => return Err(StoreError::Corrupt(format!("{key}: item without a value"))),
        };
        Ok(Some(Versioned { value, version }))
    }

    async fn put_if(&self, key: &str, value: Bytes, expected: Option<u64>) -> Cas<u64> {
        let version = expected.map_or(1, |v| v + 1);
        let w = token();
        let item = self.item(key, value, version, &w).await?;
        let (cond, values) = Self::condition(expected);
        let mut req = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(cond);
        if let Some((k, v)) = values {
            req = req.expression_attribute_values(k, v);
        }
        match req.send().await {
            Ok(_) => Ok(Ok(version)),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                // An earlier attempt that timed out may have landed: then it is ours.
                let mine = self.read(key).await?.is_some_and(|i| {
                    i.get("w") == Some(&s(&w)) && version_of(&i).ok() == Some(version)
                });
                Ok(if mine { Ok(version) } else { Err(Conflict) })
            }
            Err(e) => Err(e).or_store_error(format!("PutItem {key}")),
        }
    }

    async fn delete_if(&self, key: &str, expected: u64) -> Cas<()> {
        let res = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(primary_key(key)))
            .condition_expression("v = :v")
            .expression_attribute_values(":v", n(expected))
            .send()
            .await;
        match res {
            Ok(_) => Ok(Ok(())),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                // Gone already (a retried attempt of ours, or another deleter): done.
                Ok(match self.read(key).await? {
                    None => Ok(()),
                    Some(_) => Err(Conflict),
                })
            }
            Err(e) => Err(e).or_store_error(format!("DeleteItem {key}")),
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :p AND begins_with(sk, :s)")
            .expression_attribute_values(":p", s(partition(prefix)))
            .expression_attribute_values(":s", s(prefix))
            .projection_expression("sk")
            .consistent_read(true);
        let mut out = strings(all_items!(query, format!("Query {prefix}")), "sk");
        out.sort();
        Ok(out)
    }

    async fn transact(&self, ops: Vec<Write>) -> Cas<()> {
        // The SDK's retries resend the same request token, so DynamoDB applies the transaction
        // once; the same token on every put lets a cancelled retry find that it landed anyway
        // (an emulator may not keep request tokens).
        let w = token();
        let mut req = self.client.transact_write_items().client_request_token(&w);
        let first_put = ops.iter().find_map(|op| match op {
            Write::Put { key, .. } => Some(key.clone()),
            Write::Delete { .. } => None,
        });
        for op in ops {
            let item = match op {
                Write::Put {
                    key,
                    value,
                    expected,
                } => {
                    let version = expected.map_or(1, |v| v + 1);
                    let (cond, values) = Self::condition(expected);
                    let put = Put::builder()
                        .table_name(&self.table)
                        .set_item(Some(self.item(&key, value, version, &w).await?))
                        .condition_expression(cond)
                        .set_expression_attribute_values(values.map(|v| HashMap::from([v])));
                    TransactWriteItem::builder()
                        .put(built(put.build())?)
                        .build()
                }
                Write::Delete { key, expected } => {
                    let del = Delete::builder()
                        .table_name(&self.table)
                        .set_key(Some(primary_key(&key)))
                        .condition_expression("v = :v")
                        .expression_attribute_values(":v", n(expected));
                    TransactWriteItem::builder()
                        .delete(built(del.build())?)
                        .build()
                }
            };
            req = req.transact_items(item);
        }
        match req.send().await {
            Ok(_) => Ok(Ok(())),
            Err(e) => {
                let lost = e.as_service_error().is_some_and(|s| {
                    s.is_transaction_canceled_exception()
                        || s.is_transaction_in_progress_exception()
                });
                if !lost {
                    return Err(e).or_store_error("TransactWriteItems");
                }
                let mine = match first_put {
                    Some(key) => self
                        .read(&key)
                        .await?
                        .is_some_and(|i| i.get("w") == Some(&s(&w))),
                    None => false,
                };
                Ok(if mine { Ok(()) } else { Err(Conflict) })
            }
        }
    }

    async fn spilled(&self) -> Result<Vec<String>> {
        let scan = self
            .client
            .scan()
            .table_name(&self.table)
            .filter_expression("attribute_exists(#r)")
            .expression_attribute_names("#r", "ref")
            .projection_expression("#r")
            .consistent_read(true);
        Ok(strings(all_items!(scan, "Scan for spilled values"), "ref"))
    }
}

/// The string attribute `name` of each item that has one.
fn strings(items: Vec<Item>, name: &str) -> Vec<String> {
    let mut items = items;
    items
        .iter_mut()
        .filter_map(|i| match i.remove(name) {
            Some(AttributeValue::S(v)) => Some(v),
            _ => None,
        })
        .collect()
}
