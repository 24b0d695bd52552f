//! The CLI's client for a running hub, found through the data directory.

use crate::api::types::{
    AddedDevice, AnonymousAccess, ApiError, BrokerView, BrowserSession, CredentialAction, Device, DeviceDetail, DeviceReview, HomeReview,
    IdentityReview, IssuedCredential, MergeRequest, PrivacySettings, RedactionRequest, RetentionRequest, SessionsEnded, Status,
    TopicRuleRequest,
};
use crate::data_dir;
use anyhow::{Context, Result};
use serde::de::DeserializeOwned;
use std::path::Path;

#[derive(Debug)]
pub struct Client {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl Client {
    pub fn for_data_dir(dir: &Path) -> Result<Self> {
        let running = data_dir::read_running(dir)?;
        let token = std::fs::read_to_string(dir.join(data_dir::OWNER_TOKEN))
            .with_context(|| format!("cannot read the owner token in {}; is this the data directory of the running hub?", dir.display()))?;
        // The hub is on this machine: a proxy from the environment must never see the owner token.
        let mut builder = reqwest::Client::builder().no_proxy().timeout(std::time::Duration::from_secs(30));
        if running.url.starts_with("https://") {
            // The hub's certificate comes from Hearth's own CA: trust that, and only that.
            let pem = std::fs::read(dir.join(crate::ca::CA_FILE)).with_context(|| {
                format!("the hub serves HTTPS but its CA certificate {} cannot be read", dir.join(crate::ca::CA_FILE).display())
            })?;
            builder = builder.tls_built_in_root_certs(false).add_root_certificate(reqwest::Certificate::from_pem(&pem)?);
        }
        let http = builder.build()?;
        Ok(Self { base: format!("{}/api/v1", running.url), token: token.trim().to_owned(), http })
    }

    async fn send<T: DeserializeOwned>(&self, method: reqwest::Method, path: &str) -> Result<Option<T>> {
        self.send_json(method, path, None).await
    }

    async fn send_json<T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<Option<T>> {
        match self.raw(method, path, body).await? {
            None => Ok(None),
            Some(bytes) => {
                Ok(Some(serde_json::from_slice(&bytes).with_context(|| format!("the hub sent an unexpected answer to {path}"))?))
            }
        }
    }

    /// The answer's bytes (`None` for 204 No Content); an error answer becomes its message.
    async fn raw(&self, method: reqwest::Method, path: &str, body: Option<serde_json::Value>) -> Result<Option<Vec<u8>>> {
        let url = format!("{}{path}", self.base);
        let mut request = self.http.request(method, &url).bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.with_context(|| {
            format!("cannot reach the hub at {url}; is `hearth serve` still running? (a stale {} is left if it crashed)", data_dir::RUNNING)
        })?;
        let status = response.status();
        if status == reqwest::StatusCode::NO_CONTENT {
            return Ok(None);
        }
        let bytes = response.bytes().await?;
        if !status.is_success() {
            let message = serde_json::from_slice::<ApiError>(&bytes)
                .map(|e| e.message)
                .unwrap_or_else(|_| String::from_utf8_lossy(&bytes).into_owned());
            anyhow::bail!("{message}");
        }
        Ok(Some(bytes.to_vec()))
    }

    /// The hub's web address (`http://127.0.0.1:8470`), for the links people open.
    pub fn web_base(&self) -> &str {
        self.base.strip_suffix("/api/v1").unwrap_or(&self.base)
    }

    /// Any request, its answer as JSON (`None` for 204): `hearth call` runs declared commands.
    pub async fn call(&self, method: reqwest::Method, path: &str, body: Option<serde_json::Value>) -> Result<Option<serde_json::Value>> {
        self.send_json(method, path, body).await
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        self.send(reqwest::Method::GET, path).await?.context("the hub sent an empty answer")
    }

    pub async fn devices(&self) -> Result<Vec<Device>> {
        self.get("/devices").await
    }

    pub async fn device(&self, id: &str) -> Result<DeviceDetail> {
        self.get(&format!("/devices/{}", checked(id)?)).await
    }

    pub async fn network(&self, id: &str) -> Result<crate::api::network::NetworkView> {
        self.get(&format!("/devices/{}/network", checked(id)?)).await
    }

    pub async fn set_internet_level(
        &self,
        id: &str,
        level: hearth_core::network::InternetLevel,
    ) -> Result<crate::api::network::NetworkView> {
        let path = format!("/devices/{}/network/level", checked(id)?);
        self.send_json(reqwest::Method::POST, &path, Some(serde_json::json!({ "level": level })))
            .await?
            .context("the hub sent an empty answer")
    }

    pub async fn set_domain(&self, id: &str, request: &crate::api::network::DomainRequest) -> Result<crate::api::network::NetworkView> {
        let path = format!("/devices/{}/network/destinations", checked(id)?);
        self.send_json(reqwest::Method::POST, &path, Some(serde_json::to_value(request)?)).await?.context("the hub sent an empty answer")
    }

    pub async fn import_mud(&self, id: &str, file: &str) -> Result<crate::api::network::MudImported> {
        let path = format!("/devices/{}/mud", checked(id)?);
        self.send_json(reqwest::Method::POST, &path, Some(serde_json::json!({ "file": file })))
            .await?
            .context("the hub sent an empty answer")
    }

    pub async fn export_mud(&self, id: &str) -> Result<String> {
        self.get(&format!("/devices/{}/mud", checked(id)?)).await
    }

    pub async fn export_firewall(&self, format: &str) -> Result<String> {
        self.get(&format!("/network/export?format={format}")).await
    }

    pub async fn status(&self) -> Result<Status> {
        self.get("/status").await
    }

    pub async fn decide(&self, id: &str, verb: &str) -> Result<Device> {
        self.send(reqwest::Method::POST, &format!("/devices/{}/{verb}", checked(id)?)).await?.context("the hub sent an empty answer")
    }

    pub async fn forget(&self, id: &str) -> Result<()> {
        self.send::<serde_json::Value>(reqwest::Method::DELETE, &format!("/devices/{}", checked(id)?)).await.map(|_| ())
    }

    pub async fn add_device(&self, name: &str) -> Result<AddedDevice> {
        self.send_json(reqwest::Method::POST, "/devices", Some(serde_json::json!({ "name": name })))
            .await?
            .context("the hub sent an empty answer")
    }

    pub async fn credential(&self, id: &str, action: CredentialAction) -> Result<Option<IssuedCredential>> {
        let answer: Option<Option<IssuedCredential>> = self
            .send_json(
                reqwest::Method::POST,
                &format!("/devices/{}/credential", checked(id)?),
                Some(serde_json::json!({ "action": action })),
            )
            .await?;
        Ok(answer.flatten())
    }

    pub async fn bind_client_id(&self, id: &str, client_id: Option<&str>) -> Result<BrokerView> {
        self.send_json(
            reqwest::Method::POST,
            &format!("/devices/{}/client-id", checked(id)?),
            Some(serde_json::json!({ "client_id": client_id })),
        )
        .await?
        .context("the hub sent an empty answer")
    }

    pub async fn set_anonymous(&self, id: &str, access: Option<AnonymousAccess>) -> Result<BrokerView> {
        self.send_json(reqwest::Method::POST, &format!("/devices/{}/anonymous", checked(id)?), Some(serde_json::to_value(access)?))
            .await?
            .context("the hub sent an empty answer")
    }

    pub async fn give_entity(&self, id: &str, claim: &crate::api::types::EntityClaim) -> Result<BrokerView> {
        self.send_json(reqwest::Method::POST, &format!("/devices/{}/entities", checked(id)?), Some(serde_json::to_value(claim)?))
            .await?
            .context("the hub sent an empty answer")
    }

    pub async fn identity(&self) -> Result<IdentityReview> {
        self.get("/identity").await
    }

    pub async fn answer_merge(&self, id: &str, request: &MergeRequest) -> Result<DeviceDetail> {
        self.send_json(reqwest::Method::POST, &format!("/devices/{}/merge", checked(id)?), Some(serde_json::to_value(request)?))
            .await?
            .context("the hub sent an empty answer")
    }

    pub async fn broker_view(&self, id: &str) -> Result<BrokerView> {
        self.get(&format!("/devices/{}/broker", checked(id)?)).await
    }

    pub async fn set_topic_rule(&self, id: &str, request: &TopicRuleRequest) -> Result<BrokerView> {
        self.send_json(reqwest::Method::POST, &format!("/devices/{}/topics", checked(id)?), Some(serde_json::to_value(request)?))
            .await?
            .context("the hub sent an empty answer")
    }

    pub async fn review(&self, id: &str, since: &str) -> Result<DeviceReview> {
        self.get(&format!("/devices/{}/review?since={}", checked(id)?, duration(since)?)).await
    }

    pub async fn home_review(&self, since: &str) -> Result<HomeReview> {
        self.get(&format!("/review?since={}", duration(since)?)).await
    }

    pub async fn privacy(&self, id: &str) -> Result<PrivacySettings> {
        self.get(&format!("/devices/{}/privacy", checked(id)?)).await
    }

    pub async fn set_retention(&self, id: &str, request: &RetentionRequest) -> Result<PrivacySettings> {
        let path = format!("/devices/{}/privacy/retention", checked(id)?);
        self.send_json(reqwest::Method::POST, &path, Some(serde_json::to_value(request)?)).await?.context("the hub sent an empty answer")
    }

    pub async fn set_redaction(&self, id: &str, request: &RedactionRequest) -> Result<PrivacySettings> {
        let path = format!("/devices/{}/privacy/redactions", checked(id)?);
        self.send_json(reqwest::Method::POST, &path, Some(serde_json::to_value(request)?)).await?.context("the hub sent an empty answer")
    }

    /// Everything the hub holds about the device (JSON), or with `csv` its messages, written to
    /// `out` as it arrives: an export can be larger than memory should hold.
    pub async fn export_to(&self, id: &str, csv: bool, out: &mut dyn std::io::Write) -> Result<()> {
        let path = format!("/devices/{}/{}", checked(id)?, if csv { "export.csv" } else { "export" });
        let url = format!("{}{path}", self.base);
        // A big export takes longer than the client's usual 30 s.
        let request = self.http.get(&url).bearer_auth(&self.token).timeout(std::time::Duration::from_secs(6 * 3600));
        let mut response = request.send().await.with_context(|| format!("cannot reach the hub at {url}"))?;
        if !response.status().is_success() {
            let bytes = response.bytes().await?;
            let message = serde_json::from_slice::<ApiError>(&bytes)
                .map(|e| e.message)
                .unwrap_or_else(|_| String::from_utf8_lossy(&bytes).into_owned());
            anyhow::bail!("{message}");
        }
        while let Some(chunk) = response.chunk().await.context("the export ended early; the hub's log says why")? {
            out.write_all(&chunk).context("cannot write the export")?;
        }
        Ok(())
    }

    /// Where the owner is signed in (browser sessions).
    pub async fn sessions(&self) -> Result<Vec<BrowserSession>> {
        self.get("/sessions").await
    }

    /// Ends one browser session at once.
    pub async fn end_session(&self, id: &str) -> Result<()> {
        let id = crate::api::types::SessionId::parse(id.trim())?;
        self.send::<serde_json::Value>(reqwest::Method::DELETE, &format!("/sessions/{id}")).await.map(|_| ())
    }

    /// Ends every browser session (the owner token has none of its own to keep).
    pub async fn end_all_sessions(&self) -> Result<SessionsEnded> {
        self.send(reqwest::Method::DELETE, "/sessions").await?.context("the hub sent an empty answer")
    }

    pub async fn login_url(&self) -> Result<String> {
        #[derive(serde::Deserialize)]
        struct Link {
            path: String,
        }
        let link: Link = self.send(reqwest::Method::POST, "/login-links").await?.context("the hub sent an empty answer")?;
        Ok(format!("{}{}", self.base.trim_end_matches("/api/v1"), link.path))
    }
}

/// Checks an id before it goes into a URL, so odd input gets the id's own error message.
/// A duration checked here, so that a typo is explained before anything is sent.
fn duration(text: &str) -> Result<String> {
    crate::api::parse_duration(text).map_err(|e| anyhow::anyhow!(e.message))?;
    Ok(text.trim().to_owned())
}

fn checked(id: &str) -> Result<String> {
    Ok(hearth_core::device::DeviceId::parse(id.trim())?.to_string())
}
