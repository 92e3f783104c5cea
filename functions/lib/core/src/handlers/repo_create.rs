//! `POST /repos/{repo}/`: create a repo. Optional JSON body: description, suite,
//! component, architectures, options. The same settings again are a no-op (200).
use super::check_repo_name;
use crate::app::App;
use crate::body::{Request, Response};
use crate::commit::{ensure_published, load_config};
use crate::error::{ApiError, ApiResult};
use crate::model::{keys, Head, RepoConfig};
use crate::store::Write;
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    #[serde(default)]
    description: String,
    #[serde(default, alias = "default_suite", alias = "distribution")]
    suite: Option<String>,
    #[serde(default, alias = "default_component")]
    component: Option<String>,
    #[serde(default)]
    architectures: Vec<String>,
    #[serde(default)]
    options: BTreeMap<String, String>,
}

fn plain(what: &str, v: &str) -> ApiResult<()> {
    if v.is_empty()
        || v.len() > 64
        || v.contains("..")
        || !v
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._+-~".contains(&b))
    {
        return Err(ApiError::bad_request(format!("invalid {what} {v:?}")));
    }
    Ok(())
}

pub async fn post(app: &App, repo: &str, req: Request) -> ApiResult<Response> {
    check_repo_name(repo)?;
    let raw = req
        .into_body()
        .collect(64 * 1024)
        .await
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let body: CreateBody = if raw.iter().all(u8::is_ascii_whitespace) {
        CreateBody::default()
    } else {
        serde_json::from_slice(&raw)
            .map_err(|e| ApiError::bad_request(format!("repo settings: {e}")))?
    };
    let config = RepoConfig {
        name: repo.to_string(),
        description: body.description.replace(['\n', '\r'], " "),
        default_suite: body.suite.unwrap_or_else(|| "stable".into()),
        default_component: body.component.unwrap_or_else(|| "main".into()),
        architectures: body.architectures,
        options: body.options,
        created: app.now(),
    };
    plain("suite", &config.default_suite)?;
    plain("component", &config.default_component)?;
    for a in &config.architectures {
        plain("architecture", a)?;
    }
    let value = serde_json::to_vec(&config).map_err(anyhow::Error::from)?;
    let head = serde_json::to_vec(&Head::default()).map_err(anyhow::Error::from)?;
    // Config and an empty head together (one transaction where the store has them).
    let ops = vec![
        Write::Put {
            key: keys::config(repo),
            value: value.into(),
            expected: None,
        },
        Write::Put {
            key: keys::head(repo),
            value: head.clone().into(),
            expected: None,
        },
    ];
    let status = match app.meta.transact(ops).await? {
        Ok(()) => http::StatusCode::CREATED,
        Err(_) => {
            let existing = load_config(app, repo).await?;
            let same = existing.description == config.description
                && existing.default_suite == config.default_suite
                && existing.default_component == config.default_component
                && existing.architectures == config.architectures
                && existing.options == config.options;
            if !same {
                return Err(ApiError::conflict(format!(
                    "repo {repo} already exists with other settings"
                )));
            }
            // A store without transactions may have stopped between the two writes.
            let _ = app
                .meta
                .put_if(&keys::head(repo), head.into(), None)
                .await?;
            http::StatusCode::OK
        }
    };
    let published = ensure_published(app, repo, 0).await?;
    let config = load_config(app, repo).await?;
    Ok(crate::json_response(
        status,
        &serde_json::json!({ "repo": config, "generation": published.generation }),
    ))
}
