//! A client of the control API, for the programs that change a running shop's faults from
//! outside: `tracedojo fault` and the workshop's stages.

use std::time::Duration;

use serde_json::Value;

/// Why a request to the control API did not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("--control {0:?} must start with http:// or https://, e.g. http://127.0.0.1:8089")]
    BadAddress(String),
    #[error("cannot build an HTTP client: {0}")]
    Client(String),
    #[error(
        "cannot reach the fault control API at {base} ({why}); is `tracedojo up` running? (--control says where)"
    )]
    Unreachable { base: String, why: &'static str },
    #[error("the control API refused: {message} ({status})")]
    Refused { message: String, status: u16 },
    #[error("cannot write the request: {0}")]
    Encode(String),
}

/// The control API of a running shop, at one base URL.
pub struct ControlClient {
    client: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl ControlClient {
    /// A client for the API at `base` (`http://127.0.0.1:8089`), sending `token` if given.
    pub fn new(base: &str, token: Option<String>) -> Result<ControlClient, ClientError> {
        let base = base.trim().trim_end_matches('/').to_string();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(ClientError::BadAddress(base));
        }
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|err| ClientError::Client(err.to_string()))?;
        Ok(ControlClient {
            client,
            base,
            token,
        })
    }

    /// Where the API is.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Sends a request; an error answer becomes an error that quotes the API's message.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, ClientError> {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request.json(body);
        }
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let response = request
            .send()
            .await
            .map_err(|err| ClientError::Unreachable {
                base: self.base.clone(),
                why: if err.is_connect() {
                    "connection refused"
                } else if err.is_timeout() {
                    "no answer within 10 s"
                } else {
                    "request failed"
                },
            })?;
        let status = response.status();
        let value: Value = response.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            return Err(ClientError::Refused {
                message: value["error"].as_str().unwrap_or("no details").to_string(),
                status: status.as_u16(),
            });
        }
        Ok(value)
    }

    /// Clears every fault in force.
    pub async fn clear_all(&self) -> Result<Value, ClientError> {
        self.send(reqwest::Method::DELETE, "/api/faults", None)
            .await
    }

    /// Sets these faults, all or none.
    pub async fn set(&self, specs: &[crate::FaultSpec]) -> Result<Value, ClientError> {
        let body =
            serde_json::to_value(specs).map_err(|err| ClientError::Encode(err.to_string()))?;
        self.send(reqwest::Method::POST, "/api/faults", Some(&body))
            .await
    }

    /// Turns the marking of faulty spans on or off.
    pub async fn reveal(&self, on: bool) -> Result<Value, ClientError> {
        let body = serde_json::json!({ "reveal": on });
        self.send(reqwest::Method::PUT, "/api/faults/reveal", Some(&body))
            .await
    }
}
