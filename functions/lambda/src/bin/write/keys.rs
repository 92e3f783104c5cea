//! The admin token and the signing keys, from Secrets Manager (or `REPOSMITH_TOKEN` for the
//! token). An empty signing-key secret is filled on the first start: the keys are generated
//! here and stored with a fixed `ClientRequestToken`, so that of two instances starting at
//! once the second's write is refused (`ResourceExistsException`) and it reads the first's.
use anyhow::Context;
use aws_sdk_secretsmanager::Client;
use reposmith_signing::{PgpKey, RsaKey};

/// Same token on every instance: Secrets Manager accepts one value per token.
const FIRST_VERSION: &str = "reposmith-signing-keys-first-version-0001";

#[derive(serde::Serialize, serde::Deserialize)]
struct Stored {
    pgp: String,
    rsa: String,
}

async fn secret(client: &Client, id: &str) -> anyhow::Result<Option<String>> {
    match client.get_secret_value().secret_id(id).send().await {
        Ok(v) => Ok(v.secret_string().map(str::to_string)),
        Err(e) => {
            let e = e.into_service_error();
            if e.is_resource_not_found_exception() {
                // A secret created without a value has no AWSCURRENT version yet.
                Ok(None)
            } else {
                Err(anyhow::Error::new(e).context(format!("reading secret {id}")))
            }
        }
    }
}

fn parse(s: &str) -> anyhow::Result<Option<(PgpKey, RsaKey)>> {
    let s = s.trim();
    if s.is_empty() || s == "{}" {
        return Ok(None);
    }
    let stored: Stored = serde_json::from_str(s)
        .context("the signing key secret must be JSON {\"pgp\": ARMORED KEY, \"rsa\": PEM}")?;
    Ok(Some((
        PgpKey::from_armored_secret(&stored.pgp).context("signing key secret: pgp")?,
        RsaKey::from_pem(&stored.rsa).context("signing key secret: rsa")?,
    )))
}

pub async fn token(conf: &aws_config::SdkConfig) -> anyhow::Result<String> {
    if let Ok(t) = std::env::var("REPOSMITH_TOKEN") {
        if !t.is_empty() {
            return Ok(t);
        }
    }
    let id = std::env::var("REPOSMITH_TOKEN_SECRET")
        .context("set REPOSMITH_TOKEN_SECRET (a Secrets Manager secret) or REPOSMITH_TOKEN")?;
    let t = secret(&Client::new(conf), &id)
        .await?
        .with_context(|| format!("secret {id} holds no token"))?;
    anyhow::ensure!(t.trim().len() >= 16, "the admin token in {id} is too short");
    Ok(t.trim().to_string())
}

pub async fn signing_keys(conf: &aws_config::SdkConfig) -> anyhow::Result<(PgpKey, RsaKey)> {
    let id = std::env::var("REPOSMITH_SIGNING_KEY_SECRET")
        .context("REPOSMITH_SIGNING_KEY_SECRET is not set (see template.yaml)")?;
    let client = Client::new(conf);
    if let Some(s) = secret(&client, &id).await? {
        if let Some(k) = parse(&s)? {
            return Ok(k);
        }
    }
    // First start: make the keys (a few seconds of RSA), then store them unless another
    // instance got there first.
    let made = tokio::task::spawn_blocking(|| -> anyhow::Result<Stored> {
        Ok(Stored {
            pgp: PgpKey::generate("reposmith repository signing key <reposmith@localhost>")?
                .to_armored_secret()?,
            rsa: RsaKey::generate(3072)?.to_pem()?,
        })
    })
    .await??;
    let put = client
        .put_secret_value()
        .secret_id(&id)
        .client_request_token(FIRST_VERSION)
        .secret_string(serde_json::to_string(&made)?)
        .send()
        .await;
    match put {
        Ok(_) => {}
        Err(e) => {
            let e = e.into_service_error();
            if !e.is_resource_exists_exception() {
                return Err(anyhow::Error::new(e).context(format!("storing keys in {id}")));
            }
        }
    }
    // Whatever is current now (ours, or the instance's that won) is the key.
    let current = secret(&client, &id)
        .await?
        .with_context(|| format!("secret {id} is still empty"))?;
    parse(&current)?.with_context(|| format!("secret {id} is still empty"))
}
