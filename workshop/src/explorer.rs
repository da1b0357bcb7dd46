//! The explorer's documented JSON API (explorer/API.md), as the checks read it: the same
//! answers a participant sees in the explorer's pages, narrowed to the participant's
//! namespace.

use std::time::Duration;

use serde_json::Value;

use crate::error::WorkshopError;

/// The explorer of a running shop.
pub struct Explorer {
    client: reqwest::Client,
    base: String,
    namespace: Option<String>,
}

impl Explorer {
    /// The explorer at `base`; with a namespace, every view is narrowed to it.
    pub fn new(base: &str, namespace: Option<String>) -> Result<Explorer, WorkshopError> {
        let base = base.trim().trim_end_matches('/').to_string();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(WorkshopError::AnswerForm {
                en: format!(
                    "--explorer {base:?} must start with http:// or https://, e.g. http://127.0.0.1:8090"
                ),
                ja: format!(
                    "--explorer {base:?} は http:// か https:// で始めてください（例: http://127.0.0.1:8090）"
                ),
            });
        }
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|err| WorkshopError::Load(err.to_string()))?;
        Ok(Explorer {
            client,
            base,
            namespace,
        })
    }

    /// Where the explorer is.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The namespace the views are narrowed to.
    pub fn namespace(&self) -> Option<&str> {
        self.namespace.as_deref()
    }

    /// A view's answer; `params` are the query, to which the namespace is added.
    pub async fn view(
        &self,
        path: &str,
        params: &[(&str, String)],
    ) -> Result<Value, WorkshopError> {
        let mut query: Vec<(&str, String)> = params.to_vec();
        if let Some(namespace) = &self.namespace {
            query.push(("namespace", namespace.clone()));
        }
        self.get(path, &query)
            .await
            .map(|answer| answer.unwrap_or(Value::Null))
    }

    /// One trace, or `None` when the explorer does not hold it.
    pub async fn trace(&self, trace_id: &str) -> Result<Option<Value>, WorkshopError> {
        self.get(&format!("/api/traces/{trace_id}"), &[]).await
    }

    /// The traces found by a search (`/api/traces`), newest first.
    pub async fn search(&self, params: &[(&str, String)]) -> Result<Vec<Value>, WorkshopError> {
        let answer = self.view("/api/traces", params).await?;
        Ok(answer["traces"].as_array().cloned().unwrap_or_default())
    }

    async fn get(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Option<Value>, WorkshopError> {
        let url = reqwest::Url::parse_with_params(&format!("{}{path}", self.base), query).map_err(
            |err| WorkshopError::ExplorerRefused {
                base: self.base.clone(),
                path: path.to_string(),
                status: 0,
                message: format!("not a valid address: {err}"),
            },
        )?;
        let response = self.client.get(url).send().await.map_err(|err| {
            WorkshopError::ExplorerUnreachable {
                base: self.base.clone(),
                why: if err.is_connect() {
                    "connection refused"
                } else if err.is_timeout() {
                    "no answer within 10 s"
                } else {
                    "request failed"
                },
            }
        })?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if status == reqwest::StatusCode::NOT_FOUND && path.starts_with("/api/traces/") {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(WorkshopError::ExplorerRefused {
                base: self.base.clone(),
                path: path.to_string(),
                status: status.as_u16(),
                message: body["error"].as_str().unwrap_or("no details").to_string(),
            });
        }
        Ok(Some(body))
    }
}

/// A span's string attribute (or resource attribute).
pub fn attribute<'a>(span: &'a Value, key: &str) -> Option<&'a str> {
    span["attributes"][key]
        .as_str()
        .or_else(|| span["resource"][key].as_str())
}

/// The spans of a trace answer.
pub fn spans(trace: &Value) -> &[Value] {
    trace["spans"].as_array().map(Vec::as_slice).unwrap_or(&[])
}
